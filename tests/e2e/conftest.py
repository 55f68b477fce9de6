"""The integration fixtures (a migrated database of each kind) for the API's end-to-end tests."""

from tests.integration.conftest import app, clock, database_url, postgres_url  # noqa: F401
