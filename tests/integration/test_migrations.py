"""Migrations upgrade an empty database to the newest schema and downgrade it back cleanly."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from il2.bootstrap import build_app, database_revision, downgrade_database, upgrade_database
from il2.config import Settings
from il2.persistence.tables import Base


def test_upgrade_from_empty_matches_the_tables_and_downgrade_leaves_nothing(
    database_url: str,
) -> None:
    app = build_app(Settings(database_url=database_url))
    assert database_revision(app) is None
    assert upgrade_database(app) == "0002"
    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    unique = {tuple(c["column_names"]) for c in inspect(engine).get_unique_constraints("doses")}
    assert ("course_id", "cycle", "dose_number") in unique
    assert downgrade_database(app) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert upgrade_database(app) == "0002"
    engine.dispose()
    app.engine.dispose()
