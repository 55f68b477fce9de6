"""The bulk demo writer keeps exactly what the audited services keep, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.domain.errors import ConflictError, InvalidInputError, RefusedError
from il2.persistence.tables import Base, PatientRow
from il2.services.accounts import actor_for_username
from il2.services.bulk import BulkWriter
from il2.services.context import Services
from il2.services.demo import DemoWriter, ServiceWriter, build_demo
from il2.services.outcomes import program
from tests.integration.conftest import fresh_postgres_database
from tests.integration.test_plan_gate import GATE_ON

UNTIL = date(2026, 11, 1)
RECORDS = ("patients", "screenings", "courses", "doses", "entries")
STUDIES = ("studies", "study_arms", "arm_assignments")  # written by the services either way
TABLES = ("users", *RECORDS, *STUDIES)
OUTLINES = ("course_outlines", "entry_outlines")
DERIVED = (*OUTLINES, "cycle_tallies")  # no ids of their own
ENTITY_TABLE = {
    "patient": "patients",
    "screening": "screenings",
    "course": "courses",
    "dose": "doses",
    "toxicity": "entries",
    "response": "entries",
    "follow_up": "entries",
    "user": "users",
    "study": "studies",
    "arm_assignment": "arm_assignments",
}
POINTERS = {
    "patient_id": "patients",
    "course_id": "courses",
    "corrects_id": "entries",
    "entry_id": "entries",
    "study_id": "studies",
    "arm_id": "study_arms",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def new_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], App]]:
    """Makes il2 on a fresh migrated database of one kind, as often as asked."""
    made: list[App] = []

    def make() -> App:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'il2-{len(made)}.sqlite3'}"
        else:
            url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
        app = build_app(Settings(database_url=url))
        upgrade_database(app)
        made.append(app)
        return app

    yield make
    for app in made:
        app.engine.dispose()


def _rows(
    engine: Engine, names: tuple[str, ...] = (*TABLES, "audit", "cycle_tallies")
) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, oldest first, users without their (salted) password hashes."""
    tables = Base.metadata.tables
    with engine.connect() as connection:
        content = {
            name: [
                dict(row._mapping)
                for row in connection.execute(
                    select(tables[name]).order_by(*tables[name].primary_key)
                )
            ]
            for name in names
        }
    for user in content.get("users", []):
        user.pop("password_hash")
    return content


def _without_ids(content: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The rows with every surrogate id replaced by the row's rank in its table."""
    rank = {
        name: {row["id"]: n for n, row in enumerate(rows)}
        for name, rows in content.items()
        if name not in DERIVED
    }

    def renumbered(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for key, table in POINTERS.items():
            if out.get(key) is not None:
                out[key] = rank[table][out[key]]
        return out

    plain = {
        name: [{**renumbered(row), "id": rank[name][row["id"]]} for row in rows]
        for name, rows in content.items()
        if name in TABLES
    }
    for name in set(DERIVED) & set(content):
        plain[name] = [renumbered(row) for row in content[name]]
    plain["audit"] = []
    for entry in content.get("audit", []):
        table = ENTITY_TABLE[entry["entity"]]
        after = entry["after"] and renumbered(entry["after"])
        if after and "id" in after:
            after["id"] = rank[table][after["id"]]
        plain["audit"].append(
            {
                **renumbered(entry),
                "id": rank["audit"][entry["id"]],
                "entity_id": rank[table][int(entry["entity_id"])],
                "after": after,
            }
        )
    return plain


def test_the_bulk_writer_keeps_what_the_services_keep(new_app: Callable[[], App]) -> None:
    through_services, in_bulk = new_app(), new_app()
    build_demo(through_services.services, seed=3, years=1, until=UNTIL)
    summary = build_demo(
        in_bulk.services,
        seed=3,
        years=1,
        until=UNTIL,
        writer=lambda services: BulkWriter(services, batch=7),
    )
    expected = _without_ids(_rows(through_services.engine))
    written = _without_ids(_rows(in_bulk.engine))
    assert summary.doses > 500
    for table in (*TABLES, "audit", "cycle_tallies"):
        assert written[table] == expected[table], table
    # every other table too (sessions, verifications, ...): neither writer may keep more
    others = tuple(sorted(set(Base.metadata.tables) - {*TABLES, "audit", *DERIVED}))
    assert _rows(in_bulk.engine, others) == _rows(through_services.engine, others)
    creations = [e for e in written["audit"] if e["action"] == "create" and e["entity"] != "user"]
    assert len(creations) == sum(len(written[table]) for table in (*RECORDS, "studies"))
    assert written["arm_assignments"]


def test_the_bulk_writer_keeps_the_outlines_a_first_read_would_make(
    new_app: Callable[[], App],
) -> None:
    through_services, in_bulk = new_app(), new_app()
    build_demo(through_services.services, seed=4, years=1, until=UNTIL)
    build_demo(in_bulk.services, seed=4, years=1, until=UNTIL, writer=BulkWriter)
    assert all(not rows for rows in _rows(through_services.engine, OUTLINES).values())
    kept = _rows(in_bulk.engine, (*TABLES, *OUTLINES))
    assert kept["course_outlines"]
    assert kept["entry_outlines"]
    read = [
        program(app.services, actor_for_username(app.services, "demo-researcher"), as_of=UNTIL)
        for app in (through_services, in_bulk)
    ]
    made = _rows(through_services.engine, (*TABLES, *OUTLINES))
    for name in OUTLINES:
        assert _without_ids(made)[name] == _without_ids(kept)[name], name
    assert _rows(in_bulk.engine, OUTLINES) == {name: kept[name] for name in OUTLINES}
    assert read[0] == read[1]  # fresh databases: the same ids too
    assert read[0].cycles


def test_progress_counts_the_patients_written_batch_by_batch(new_app: Callable[[], App]) -> None:
    heard: list[tuple[int, int]] = []
    build_demo(
        new_app().services,
        seed=2,
        years=1,
        until=UNTIL,
        patients=12,
        writer=lambda services: BulkWriter(services, batch=5),
        progress=lambda done, total: heard.append((done, total)),
    )
    assert sorted(set(heard)) == [(0, 12), (5, 12), (10, 12), (12, 12)]
    assert heard[-1] == (12, 12)


def test_a_batch_that_fails_is_rolled_back_whole(new_app: Callable[[], App]) -> None:
    app = new_app()
    with app.engine.begin() as connection:
        connection.execute(
            insert(PatientRow.__table__),
            {
                "mrn": "DEMO-2-000008",
                "name": "Already here",
                "birth_date": date(1970, 1, 1),
                "sex": "female",
                "diagnosis": "melanoma",
                "referred_on": date(2026, 1, 2),
                "created_at": datetime(2026, 1, 2, tzinfo=UTC),
            },
        )
    with pytest.raises(ConflictError, match="patients"):
        build_demo(
            app.services,
            seed=2,
            years=1,
            until=UNTIL,
            patients=12,
            writer=lambda services: BulkWriter(services, batch=5),
        )
    content = _rows(app.engine)
    assert [p["mrn"] for p in content["patients"]][1:] == [f"DEMO-2-{n:06d}" for n in range(1, 6)]
    assert len({s["patient_id"] for s in content["screenings"]}) == 5
    demo_patients = {p["id"] for p in content["patients"][1:]}
    assert {e["patient_id"] for e in content["audit"] if e["patient_id"]} == demo_patients
    with app.engine.connect() as connection:
        orphans = connection.scalar(
            select(func.count())
            .select_from(Base.metadata.tables["doses"])
            .where(
                Base.metadata.tables["doses"].c.course_id.not_in(
                    select(Base.metadata.tables["courses"].c.id)
                )
            )
        )
    assert orphans == 0


@pytest.mark.parametrize(
    ("patients", "years", "field"), [(0, 10, "patients"), (-3, 10, "patients"), (None, 0, "years")]
)
def test_a_demo_of_no_patients_or_no_years_is_refused(
    tmp_path: Path, patients: int | None, years: int, field: str
) -> None:
    app = build_app(Settings(database_url=f"sqlite:///{tmp_path / 'd.sqlite3'}"))
    with pytest.raises(InvalidInputError) as refused:
        build_demo(app.services, years=years, until=UNTIL, patients=patients, writer=BulkWriter)
    assert refused.value.field == field
    app.engine.dispose()


def test_the_bulk_writer_needs_bulk_storage_and_a_batch_of_one_or_more(tmp_path: Path) -> None:
    app = build_app(Settings(database_url=f"sqlite:///{tmp_path / 'd.sqlite3'}"))
    with pytest.raises(ValueError, match=r"Services\.bulk"):
        BulkWriter(replace(app.services, bulk=None))
    with pytest.raises(ValueError, match="1 or more"):
        BulkWriter(app.services, batch=0)
    app.engine.dispose()


def test_ids_are_reserved_ascending_and_never_twice(app: App) -> None:
    assert app.services.bulk is not None
    with app.services.bulk() as store:
        assert list(store.reserve_ids("patients", 0)) == []
        first = list(store.reserve_ids("patients", 3))
        second = list(store.reserve_ids("patients", 2))
    assert first == sorted(first)
    assert len(set(first + second)) == 5
    assert min(second) > max(first)


@pytest.mark.parametrize("writer", [ServiceWriter, BulkWriter])
def test_with_the_plan_gate_on_neither_writer_gives_a_first_dose_unverified(
    tmp_path: Path, writer: Callable[[Services], DemoWriter]
) -> None:
    policy = tmp_path / "site.toml"
    policy.write_text(GATE_ON)
    app = build_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'd.sqlite3'}", site_policy=policy)
    )
    upgrade_database(app)
    with pytest.raises(RefusedError) as refused:
        build_demo(app.services, seed=2, years=1, until=UNTIL, patients=3, writer=writer)
    assert [reason.code for reason in refused.value.reasons] == ["plan-not-verified"]
    assert _rows(app.engine)["doses"] == []
    app.engine.dispose()
