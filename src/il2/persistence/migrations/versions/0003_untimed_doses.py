"""for data quality: a partial index of doses recorded as given with no time

Outcome analysis lists such doses (the stay of their cycle is unknown). They should not exist,
so the index is empty in a sound ledger and finding them costs nothing, not a scan of every
dose.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 17:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UNTIMED = "outcome = 'given' AND given_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_doses_given_untimed",
        "doses",
        ["course_id", "cycle"],
        sqlite_where=sa.text(UNTIMED),
        postgresql_where=sa.text(UNTIMED),
    )


def downgrade() -> None:
    op.drop_index("ix_doses_given_untimed", table_name="doses")
