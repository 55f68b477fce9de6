"""outlines for outcome analysis: course and entry outlines, ledger and verdict indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_index(
        "ix_doses_ledger",
        "doses",
        ["course_id", "cycle", "dose_number", "outcome", "decision_action", "given_at"],
    )
    op.create_index("ix_screenings_verdicts", "screenings", ["patient_id", "id", "verdict"])
    op.create_table(
        "course_outlines",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("regimen_id", sa.String(length=40), nullable=False),
        sa.Column("first_dose_on", sa.Date(), nullable=False),
        sa.Column("vials_per_dose", sa.Integer(), nullable=False),
        sa.Column("cycle_starts", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_outlines_course_id_courses")
        ),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_course_outlines")),
    )
    op.create_table(
        "entry_outlines",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("facts", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name=op.f("fk_entry_outlines_entry_id_entries")
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_entry_outlines")),
    )


def downgrade() -> None:
    op.drop_table("entry_outlines")
    op.drop_table("course_outlines")
    op.drop_index("ix_screenings_verdicts", table_name="screenings")
    op.drop_index("ix_doses_ledger", table_name="doses")
