"""Alembic environment: the engine comes from il2 (see il2.persistence.migrate)."""

from __future__ import annotations

from alembic import context

from il2.persistence.tables import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
