"""Real databases for integration tests: SQLite files and a throwaway PostgreSQL cluster.

PostgreSQL tests need Debian's `postgresql` server binaries (CI installs them). Outside CI they
skip when no server is installed; under CI=true a skip fails the run (tests/conftest.py).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from tests.integration.postgres import cluster, server_binaries

_NAMES = itertools.count()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The base URL of a session-wide PostgreSQL cluster."""
    if server_binaries() is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    with cluster() as url:
        yield url


def fresh_postgres_database(base_url: str, *, template: str | None = None) -> str:
    """A new database in the cluster, empty or a copy of the database `template`; returns its
    URL."""
    name = f"il2_test_{next(_NAMES)}"
    admin = create_engine(f"{base_url}/postgres", isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    return f"{base_url}/{name}"


def _migrated(url: str) -> None:
    """Migrate the database at `url` to the newest revision."""
    built = build_app(Settings(database_url=url))
    upgrade_database(built)
    built.engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest revision, copied for each test that wants `app`."""
    path: Path = tmp_path_factory.mktemp("template") / "il2.sqlite3"
    _migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url: str) -> str:
    """The name of a PostgreSQL database migrated to the newest revision, never connected to
    again: `CREATE DATABASE ... TEMPLATE` copies it for each test that wants `app`."""
    url = fresh_postgres_database(postgres_url)
    _migrated(url)
    return url.rsplit("/", 1)[1]


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of each kind: empty, or (for a test that asks for `app`) a copy of one the
    migrations built once for the session; the migrations give every copy the same schema, and
    they insert no rows."""
    migrated = "app" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "il2.sqlite3"
        if migrated:
            shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    base: str = request.getfixturevalue("postgres_url")
    template = request.getfixturevalue("migrated_postgres") if migrated else None
    return fresh_postgres_database(base, template=template)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def app(database_url: str, clock: FixedClock) -> Iterator[App]:
    """il2 on a migrated database of each kind (already at the newest revision: the upgrade
    finds nothing to do)."""
    built = build_app(Settings(database_url=database_url), clock=clock)
    upgrade_database(built)
    yield built
    built.engine.dispose()
