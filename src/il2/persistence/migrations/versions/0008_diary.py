"""the outpatient self-injection diary

What an outpatient reports of each planned injection of a subcutaneous course: taken (when) or
missed (why), the side effects (CTCAE term and grade), who reported it and a note. Entries are
never overwritten: a correction is a new entry pointing at the one it replaces, and the
database keeps one current entry per (course, cycle, dose number).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 17:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FIRST = "corrects_id IS NULL"


def upgrade() -> None:
    op.create_table(
        "diary_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("missed_reason", sa.Text(), nullable=True),
        sa.Column(
            "side_effects",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("reported_by", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_diary_entries_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["corrects_id", "course_id", "cycle", "dose_number"],
            [
                "diary_entries.id",
                "diary_entries.course_id",
                "diary_entries.cycle",
                "diary_entries.dose_number",
            ],
            name="fk_diary_entries_corrects_same_injection",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diary_entries")),
        sa.UniqueConstraint("corrects_id", name="uq_diary_entries_corrects_id"),
        sa.UniqueConstraint(
            "id", "course_id", "cycle", "dose_number", name="uq_diary_entries_slot_key"
        ),
        sa.CheckConstraint("status IN ('taken', 'missed')", name="ck_diary_entries_status"),
        sa.CheckConstraint(
            "(status = 'taken' AND taken_at IS NOT NULL) "
            "OR (status = 'missed' AND taken_at IS NULL)",
            name="ck_diary_entries_taken_at",
        ),
    )
    op.create_index(op.f("ix_diary_entries_course_id"), "diary_entries", ["course_id"])
    op.create_index(
        "uq_diary_entries_first",
        "diary_entries",
        ["course_id", "cycle", "dose_number"],
        unique=True,
        sqlite_where=sa.text(FIRST),
        postgresql_where=sa.text(FIRST),
    )


def downgrade() -> None:
    op.drop_table("diary_entries")
