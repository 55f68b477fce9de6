"""The integration fixtures (a migrated database of each kind) for the end-to-end tests, and
the web pages over it with one user of every role and one patient."""

import warnings
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from tests.integration.builders import PATIENT, staff
from tests.integration.conftest import (  # noqa: F401
    app,
    clock,
    database_url,
    migrated_postgres,
    migrated_sqlite,
    postgres_url,
)
from tests.web_client import FormClient

from il2.bootstrap import App
from il2.domain.records import Actor, Role
from il2.services.patients import create_patient
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def people(app: App) -> dict[Role, Actor]:  # noqa: F811 - the imported fixture, by name
    """One user of every role."""
    return staff(app)


@pytest.fixture
def web(app: App, people: dict[Role, Actor]) -> Iterator[TestClient]:  # noqa: F811 - as above
    """The web pages over a migrated database with one user of every role."""
    site = FastAPI()
    site.include_router(web_router(app))
    with FormClient(site, follow_redirects=False) as client:
        yield client


@pytest.fixture
def patient_id(app: App, people: dict[Role, Actor]) -> int:  # noqa: F811 - as above
    """A patient created by the physician."""
    return create_patient(app.services, people[Role.PHYSICIAN], PATIENT).id
