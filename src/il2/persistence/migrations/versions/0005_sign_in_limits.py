"""sign-in throttling and idle sessions

Failed sign-ins are kept (the name tried, the client address, when) so that further attempts
can be refused for a while after too many; a successful sign-in or an administrator's unlock
clears an account's. Each session keeps when it was last used, for the idle timeout; sessions
from before have none and count as used when they were made.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    with op.batch_alter_table("sign_in_failures") as batch:
        batch.create_index(batch.f("ix_sign_in_failures_username"), ["username"], unique=False)
        batch.create_index(batch.f("ix_sign_in_failures_address"), ["address"], unique=False)
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("last_seen_at")
    op.drop_table("sign_in_failures")
