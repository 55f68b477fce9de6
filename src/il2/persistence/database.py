"""Engines: SQLite (WAL, foreign keys, one writer at a time) or PostgreSQL."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool


def json_text(value: Any) -> str:
    """A JSON column's text: compact, written by orjson (a fraction of the standard library's
    time on the ledger's documents); keys that are not text are written as text, as `json` does.
    """
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_JSON = {"json_serializer": json_text, "json_deserializer": orjson.loads}


def _sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def configure(connection: Any, _record: Any) -> None:
        connection.isolation_level = None  # il2 issues BEGIN itself, below
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection: Any) -> None:
        # Every il2 transaction writes (reads are audited), so take the write lock at once:
        # a deferred transaction that reads first can fail to upgrade under contention.
        # Straight to the driver: a fixed statement needs none of SQLAlchemy's statement path.
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for `url`, configured for il2's safety needs."""
    if url.startswith("sqlite"):
        # SQLite takes one writer at a time; one pooled connection makes threads queue fairly
        # in the pool instead of sleeping in SQLite's busy handler.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            **_JSON,
        )
        _sqlite(engine)
        return engine
    return create_engine(url, pool_size=20, max_overflow=40, pool_recycle=1800, **_JSON)


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit."""
    return sessionmaker(engine, expire_on_commit=False)
