"""SMART scopes on session tokens

A session token may be asked for with SMART resource scopes (POST /api/token `scope`), which
narrow what the FHIR facade lets it read; the scope string is kept with the session. Sessions
from before, and tokens asked for without a scope, have none: all their role allows.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("scope", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("scope")
