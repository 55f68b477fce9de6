"""Composition root: builds what the edges need from settings; no module-level globals."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from il2.config import Settings
from il2.rules.loader import RuleSet, load_rules
from il2.services.context import Services
from il2.services.ports import Clock, EhrRecords

# Storage (SQLAlchemy, Alembic) is imported where an app is built, not here: the engine
# commands read only the rules (site_rules) and start without loading it.
if TYPE_CHECKING:
    from sqlalchemy import Engine


def system_clock() -> datetime:
    """The current moment, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class App:
    """Everything a command or request needs, built once at start-up."""

    settings: Settings
    rules: RuleSet
    engine: Engine
    services: Services

    @property
    def one_writer(self) -> bool:
        """The database takes one writer at a time (SQLite): one server process at most."""
        return self.engine.dialect.name == "sqlite"


STUDY_KEY_BYTES = 32


def study_key(settings: Settings) -> bytes:
    """The site's study key: configured, else read from (or first written to) its file.

    A new key file is written with owner-only permissions; the key is never logged.
    """
    if settings.study_key is not None:
        return _long_enough(settings.study_key, "IL2_STUDY_KEY")
    path = settings.study_key_file
    if path is None:  # no file named (tests): a key for the life of this process
        return secrets.token_hex(STUDY_KEY_BYTES).encode("ascii")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process wrote it first: read theirs
            pass
        else:
            with os.fdopen(handle, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(STUDY_KEY_BYTES) + "\n")
    return _long_enough(path.read_text(encoding="utf-8").strip().encode("utf-8"), str(path))


STUDY_KEY_SHORTEST = 32


def _long_enough(key: bytes, where: str) -> bytes:
    """The study key, refused (naming where it came from, never its value) when too short."""
    if len(key) < STUDY_KEY_SHORTEST:
        raise ValueError(
            f"the study key in {where} has {len(key)} bytes; at least {STUDY_KEY_SHORTEST} are "
            "needed (a random key is written there when the file does not exist)"
        )
    return key


def launch_cookie_key(app: App) -> bytes:
    """The key that signs the SMART launch cookie (il2.interop.smart), the same in every server
    process: derived from the site's study key by HMAC-SHA256 under a label of its own, so the
    cookie's signatures say nothing of the study key and the key needs no setting of its own."""
    return hmac.new(app.services.study_key, b"il2 smart launch cookie v1", hashlib.sha256).digest()


def ehr_records(settings: Settings) -> EhrRecords | None:
    """The site's EHR over FHIR (IL2_EHR_FHIR_URL), or None when none is configured; a URL
    that is not http(s), or a token file that cannot be read, stops il2 at start."""
    from il2.ehr.fhir import FhirEhrRecords  # noqa: PLC0415 - httpx, only with an EHR

    url = settings.ehr_fhir_url
    if url is None:
        return None
    if not url.startswith(("https://", "http://")) or " " in url:
        raise ValueError(f"IL2_EHR_FHIR_URL must be an http(s) URL, not {url!r}")
    token = settings.ehr_token
    if token is None and settings.ehr_token_file is not None:
        try:
            token = settings.ehr_token_file.read_text(encoding="utf-8").strip() or None
        except OSError as error:
            raise ValueError(
                f"IL2_EHR_TOKEN_FILE {settings.ehr_token_file}: {error.strerror}"
            ) from None
    return FhirEhrRecords(url, token=token)


def site_rules(settings: Settings | None = None) -> RuleSet:
    """The rule tables with the site's policy: all the stateless engines need (no storage)."""
    settings = settings or Settings.from_environment()
    return load_rules(site_policy=settings.site_policy)


def export_folder(settings: Settings) -> Path:
    """Where bulk export files go: `exports/` in the data directory; without one (tests), a
    folder of this process under the system's temporary directory."""
    if settings.data_dir is not None:
        return settings.data_dir / "exports"
    return Path(tempfile.gettempdir()) / f"il2-exports-{os.getpid()}"


def build_app(settings: Settings | None = None, *, clock: Clock = system_clock) -> App:
    """Load settings and rule tables and connect storage; fails loudly on a bad rule file."""
    from il2.persistence.bulk import SqlBulkRecordsFactory  # noqa: PLC0415 - storage, see top
    from il2.persistence.database import make_engine, make_sessions  # noqa: PLC0415
    from il2.persistence.exports import DiskExportFiles  # noqa: PLC0415
    from il2.persistence.uow import SqlUnitOfWorkFactory  # noqa: PLC0415

    settings = settings or Settings.from_environment()
    rules = load_rules(site_policy=settings.site_policy)
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    engine = make_engine(settings.database_url)
    services = Services(
        rules=rules,
        uow=SqlUnitOfWorkFactory(make_sessions(engine)),
        clock=clock,
        bulk=SqlBulkRecordsFactory(engine),
        ehr=ehr_records(settings),
        study_key=study_key(settings),
        export_files=DiskExportFiles(export_folder(settings)),
    )
    return App(settings=settings, rules=rules, engine=engine, services=services)


def upgrade_database(app: App, revision: str = "head") -> str | None:
    """Apply migrations up to `revision`; returns the revision reached."""
    from il2.persistence import migrate  # noqa: PLC0415 - Alembic, only when migrating

    migrate.upgrade(app.engine, revision)
    return migrate.current(app.engine)


def downgrade_database(app: App, revision: str = "base") -> str | None:
    """Undo migrations down to `revision`; returns the revision reached."""
    from il2.persistence import migrate  # noqa: PLC0415

    migrate.downgrade(app.engine, revision)
    return migrate.current(app.engine)


def database_revision(app: App) -> str | None:
    """The schema revision the database is at."""
    from il2.persistence import migrate  # noqa: PLC0415

    return migrate.current(app.engine)
