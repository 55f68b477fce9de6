"""The interoperability edge's fixtures: a migrated database of each kind, and the server.

`app` gives each test its own database (tests that write). `shared_app` gives a test module one
database of each kind for all its tests, for modules whose tests only read what a module-scoped
fixture built once: the edge answers reads, and rebuilding a patient's record for each read
cost two or three seconds a test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from tests.integration.conftest import (  # noqa: F401
    FixedClock,
    app,
    clock,
    database_url,
    fresh_postgres_database,
    migrated_postgres,
    migrated_sqlite,
    postgres_url,
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[App]:
    """il2 on one migrated database of each kind for the whole module (a copy of the session's
    migrated template, as `app` makes for each test)."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("shared") / "il2.sqlite3"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        url = f"sqlite:///{path}"
    else:
        url = fresh_postgres_database(
            request.getfixturevalue("postgres_url"),
            template=request.getfixturevalue("migrated_postgres"),
        )
    built = build_app(Settings(database_url=url), clock=FixedClock())
    upgrade_database(built)
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def shared_clock(shared_app: App) -> FixedClock:
    """The clock of `shared_app` (one per database), for the module's setup to move."""
    kept = shared_app.services.clock
    assert isinstance(kept, FixedClock)
    return kept
