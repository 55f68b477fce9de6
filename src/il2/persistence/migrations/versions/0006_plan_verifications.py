"""plan verifications

A pharmacist verifies a course's plan before its first dose: one row per course, who and when.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_verifications",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("verified_by", sa.String(length=80), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_plan_verifications_course_id_courses"),
        ),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_plan_verifications")),
    )


def downgrade() -> None:
    op.drop_table("plan_verifications")
