"""infusion events

The events of a running continuous infusion (pause, resume, stop), one row each, numbered in
the dose slot's order: unique per (course, cycle, dose number, seq), so two events recorded at
once never both take the same place. Never updated or deleted: a correction is a new event
whose `corrects` names the event it replaces.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 17:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "infusion_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision_action", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("corrects", sa.Integer(), nullable=True),
        sa.Column("assessment", _JSON, nullable=True),
        sa.Column("decision", _JSON, nullable=True),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_infusion_events_course_id_courses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_infusion_events")),
        sa.UniqueConstraint(
            "course_id", "cycle", "dose_number", "seq", name="uq_infusion_events_slot_seq"
        ),
    )
    op.create_index(op.f("ix_infusion_events_course_id"), "infusion_events", ["course_id"])


def downgrade() -> None:
    op.drop_table("infusion_events")
