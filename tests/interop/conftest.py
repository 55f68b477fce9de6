"""The interoperability edge's fixtures: a migrated database of each kind, and the server."""

from tests.integration.conftest import (  # noqa: F401
    app,
    clock,
    database_url,
    migrated_postgres,
    migrated_sqlite,
    postgres_url,
)
