"""export jobs

FHIR Bulk Data `$export` jobs, one row each: who asked, the request, the resource types, the
read mode (identified or de-identified), the status and progress, the transaction time the
program is read as of, the output files with their line counts, the error, and when the files
expire. A row is kept after its files are deleted (status cancelled or expired), as a record
of what was exported.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 09:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("request_url", sa.Text(), nullable=False),
        sa.Column("types", _JSON, nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("patients_total", sa.Integer(), nullable=False),
        sa.Column("patients_done", sa.Integer(), nullable=False),
        sa.Column("through_patient_id", sa.Integer(), nullable=False),
        sa.Column("transaction_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outputs", _JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    op.create_index(op.f("ix_export_jobs_username"), "export_jobs", ["username"])
    op.create_index(op.f("ix_export_jobs_expires_at"), "export_jobs", ["expires_at"])


def downgrade() -> None:
    op.drop_table("export_jobs")
