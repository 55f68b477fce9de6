"""Migrations upgrade an empty database to the newest schema and downgrade it back cleanly."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, create_engine, inspect, text

from il2.bootstrap import build_app, database_revision, downgrade_database, upgrade_database
from il2.config import Settings
from il2.persistence.tables import Base
from il2.services.bulk import BulkWriter
from il2.services.demo import build_demo


def test_upgrade_from_empty_matches_the_tables_and_downgrade_leaves_nothing(
    database_url: str,
) -> None:
    app = build_app(Settings(database_url=database_url))
    assert database_revision(app) is None
    assert upgrade_database(app) == "0011"
    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    unique = {tuple(c["column_names"]) for c in inspect(engine).get_unique_constraints("doses")}
    assert ("course_id", "cycle", "dose_number") in unique
    assert ("recorded_by", "course_id", "idempotency_key") in unique
    assert ("idempotency_key",) not in unique
    indexes = {index["name"] for index in inspect(engine).get_indexes("doses")}
    assert "ix_doses_given_untimed" in indexes
    chains = {
        tuple(c["column_names"]) for c in inspect(engine).get_unique_constraints("arm_assignments")
    }
    assert ("study_id", "patient_id", "sequence") in chains
    order = {
        tuple(c["column_names"]) for c in inspect(engine).get_unique_constraints("infusion_events")
    }
    assert ("course_id", "cycle", "dose_number", "seq") in order
    assert downgrade_database(app) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert upgrade_database(app) == "0011"
    engine.dispose()
    app.engine.dispose()


def _tallies(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The tallies kept, and the same counted from the ledger now."""
    kept = "SELECT course_id, cycle, given, held, last_given_at FROM cycle_tallies ORDER BY 1, 2"
    counted = (
        "SELECT course_id, cycle, SUM(CASE WHEN outcome = 'given' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN outcome = 'held' THEN 1 ELSE 0 END), MAX(given_at) "
        "FROM doses GROUP BY course_id, cycle ORDER BY 1, 2"
    )
    with engine.connect() as connection:
        return (
            [tuple(row) for row in connection.execute(text(kept))],
            [tuple(row) for row in connection.execute(text(counted))],
        )


def test_upgrading_counts_the_doses_already_recorded_and_new_doses_count_as_added(
    database_url: str,
) -> None:
    app = build_app(Settings(database_url=database_url))
    upgrade_database(app, "0001")
    # no study at 0001: its tables come with 0007
    build_demo(app.services, seed=5, years=1, until=date(2026, 11, 1), study=False)
    assert upgrade_database(app) == "0011"
    engine = create_engine(database_url)
    kept, counted = _tallies(engine)
    assert kept == counted
    before = len(kept)
    build_demo(
        app.services, seed=6, years=1, until=date(2026, 11, 1), patients=8, writer=BulkWriter
    )
    kept, counted = _tallies(engine)
    assert kept == counted
    assert len(kept) > before > 20
    engine.dispose()
    app.engine.dispose()
