"""idempotency keys scoped to who recorded and the course

A key used to be unique across the whole ledger, so a retry with a key first used on another
course (or by another user) was answered with that other patient's dose, and nothing was
recorded. A key now identifies a submission only together with its user and its course.

SQLite cannot drop a table constraint in place: the table is rebuilt (batch mode), and its
partial index and its tally trigger, which a rebuild loses, are made again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 20:50:00
"""

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UNTIMED = "outcome = 'given' AND given_at IS NULL"
SCOPED = ["recorded_by", "course_id", "idempotency_key"]


def _sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def _rebuild(drop: str, create: str, columns: list[str]) -> None:
    sqlite = _sqlite()
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS tr_doses_tally")
        op.drop_index("ix_doses_given_untimed", table_name="doses")
    with op.batch_alter_table("doses") as batch:
        batch.drop_constraint(drop, type_="unique")
        batch.create_unique_constraint(create, columns)
    if sqlite:
        op.create_index(
            "ix_doses_given_untimed", "doses", ["course_id", "cycle"], sqlite_where=sa.text(UNTIMED)
        )
        outlines = importlib.import_module("il2.persistence.migrations.versions.0002_outlines")
        op.execute(outlines.SQLITE_TRIGGER)


def upgrade() -> None:
    _rebuild("uq_doses_idempotency_key", "uq_doses_idempotency_scope", SCOPED)


def downgrade() -> None:
    _rebuild("uq_doses_idempotency_scope", "uq_doses_idempotency_key", ["idempotency_key"])
