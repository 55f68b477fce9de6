"""Schema migrations with Alembic, run from code (il2 db upgrade / downgrade)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("il2.persistence") / "migrations")
    )
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the newest by default)."""
    command.upgrade(_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Take the schema down to `revision` (empty by default)."""
    command.downgrade(_config(engine), revision)


def current(engine: Engine) -> str | None:
    """The schema revision the database is at."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - only needed here

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
