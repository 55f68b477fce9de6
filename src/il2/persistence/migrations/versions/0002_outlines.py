"""for outcome analysis: course and entry outlines, cycle tallies kept by a trigger, verdicts index

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

# Each dose added counts in its cycle's tally (doses are only ever added, never changed).
SQLITE_TRIGGER = """
CREATE TRIGGER tr_doses_tally AFTER INSERT ON doses
BEGIN
    INSERT INTO cycle_tallies (course_id, cycle, given, held, last_given_at)
    VALUES (NEW.course_id, NEW.cycle, NEW.outcome = 'given', NEW.outcome = 'held', NEW.given_at)
    ON CONFLICT (course_id, cycle) DO UPDATE SET
        given = given + excluded.given,
        held = held + excluded.held,
        last_given_at = CASE
            WHEN last_given_at IS NULL OR excluded.last_given_at > last_given_at
            THEN coalesce(excluded.last_given_at, last_given_at)
            ELSE last_given_at
        END;
END
"""
POSTGRESQL_FUNCTION = """
CREATE FUNCTION il2_tally_dose() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cycle_tallies (course_id, cycle, given, held, last_given_at)
    VALUES (NEW.course_id, NEW.cycle, (NEW.outcome = 'given')::int,
            (NEW.outcome = 'held')::int, NEW.given_at)
    ON CONFLICT (course_id, cycle) DO UPDATE SET
        given = cycle_tallies.given + EXCLUDED.given,
        held = cycle_tallies.held + EXCLUDED.held,
        last_given_at = greatest(cycle_tallies.last_given_at, EXCLUDED.last_given_at);
    RETURN NEW;
END
$$
"""
POSTGRESQL_TRIGGER = (
    "CREATE TRIGGER tr_doses_tally AFTER INSERT ON doses "
    "FOR EACH ROW EXECUTE FUNCTION il2_tally_dose()"
)
BACKFILL = """
INSERT INTO cycle_tallies (course_id, cycle, given, held, last_given_at)
SELECT course_id, cycle,
       sum(CASE WHEN outcome = 'given' THEN 1 ELSE 0 END),
       sum(CASE WHEN outcome = 'held' THEN 1 ELSE 0 END),
       max(given_at)
FROM doses GROUP BY course_id, cycle
"""


def upgrade() -> None:
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
    op.create_table(
        "cycle_tallies",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("given", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("last_given_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_cycle_tallies_course_id_courses")
        ),
        sa.PrimaryKeyConstraint("course_id", "cycle", name=op.f("pk_cycle_tallies")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS tr_doses_tally"
        + (" ON doses" if op.get_bind().dialect.name == "postgresql" else "")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS il2_tally_dose()")
    op.drop_table("cycle_tallies")
    op.drop_table("entry_outlines")
    op.drop_table("course_outlines")
    op.drop_index("ix_screenings_verdicts", table_name="screenings")
