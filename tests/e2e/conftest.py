"""The integration fixtures (a migrated database of each kind) for the API's end-to-end tests."""

from tests.integration.conftest import (  # noqa: F401
    app,
    clock,
    database_url,
    migrated_postgres,
    migrated_sqlite,
    postgres_url,
)
