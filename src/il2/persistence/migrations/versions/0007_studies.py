"""studies and arms

The studies a program runs, their arms, and each patient's chain of arm assignments
(assigned, corrected, withdrawn; one record per study, patient and number, never overwritten).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registry_id", sa.String(length=40), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint("name", name=op.f("uq_studies_name")),
        sa.UniqueConstraint("registry_id", name=op.f("uq_studies_registry_id")),
    )
    op.create_table(
        "study_arms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_study_arms_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_arms")),
        sa.UniqueConstraint("study_id", "code", name="uq_study_arms_study_code"),
    )
    op.create_index(op.f("ix_study_arms_study_id"), "study_arms", ["study_id"])
    op.create_table(
        "arm_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("arm_id", sa.Integer(), nullable=True),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_arm_assignments_study_id_studies")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_arm_assignments_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["arm_id"], ["study_arms.id"], name=op.f("fk_arm_assignments_arm_id_study_arms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arm_assignments")),
        sa.UniqueConstraint(
            "study_id", "patient_id", "sequence", name="uq_arm_assignments_study_patient_sequence"
        ),
    )
    op.create_index(op.f("ix_arm_assignments_study_id"), "arm_assignments", ["study_id"])
    op.create_index(op.f("ix_arm_assignments_patient_id"), "arm_assignments", ["patient_id"])


def downgrade() -> None:
    op.drop_table("arm_assignments")
    op.drop_table("study_arms")
    op.drop_table("studies")
