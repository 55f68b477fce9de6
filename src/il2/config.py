"""Settings from the environment, read only by the composition root (bootstrap)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


def _data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME", "").strip() or str(
        Path(env.get("HOME", "~")).expanduser() / ".local" / "share"
    )
    return Path(base) / "il2"


_YES = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True, slots=True)
class Settings:
    """Where il2 keeps its records and finds the site's choices.

    IL2_DATABASE_URL: a SQLAlchemy URL (postgresql+psycopg://...); unset means an SQLite file
    under the user's data directory ($XDG_DATA_HOME/il2, else ~/.local/share/il2).
    IL2_SITE_POLICY: path to the site's policy file (TOML); unset means the bundled defaults.
    IL2_STUDY_KEY: the site's secret key for study numbers (text, 32 characters or more), which
    only administrators hold; or IL2_STUDY_KEY_FILE, a file holding it. Unset means the file
    `study.key` under the data directory, made with a random key on first use. A Settings made
    without either (tests) uses a random key for the life of the process.
    IL2_SECURE_COOKIES: `1` (or `true`, `yes`) makes the web's cookies Secure even on a request
    that arrived over http (a proxy terminating TLS that il2 does not trust); unset, a cookie
    is Secure when the request came over https.
    IL2_FORWARDED_ALLOW_IPS: the proxy addresses (comma-separated) whose X-Forwarded-Proto and
    X-Forwarded-For `il2 serve` believes; unset means 127.0.0.1 only.
    The data directory ($XDG_DATA_HOME/il2, else ~/.local/share/il2) also holds FHIR bulk
    export files (`exports/<job>/`); a Settings made without it (tests) keeps them in a folder
    under the system's temporary directory.
    IL2_DEMO: `1` (or `true`, `yes`) says the database is a demo (`make run` sets it): the
    sign-in page then shows the demo accounts and their password. Never set it on real records.
    IL2_CDS_CLIENTS: path to the TOML file of the CDS Hooks clients (EHRs) il2 trusts, each with
    its JWT issuer, its public keys and the il2 account its calls are audited under
    (docs/contract.md, "CDS Hooks"); unset means no client is trusted and every CDS service
    call is refused.
    IL2_SMART_CLIENT_ID: il2's client id at the EHRs that launch it (SMART EHR launch,
    /smart/launch); unset means il2 cannot be launched from an EHR.
    IL2_SMART_ISSUERS: the FHIR base URLs (space- or comma-separated) of the EHRs trusted to
    launch il2; a launch naming any other `iss` is refused. Unset: none.
    IL2_EHR_FHIR_URL: the base URL of the EHR's FHIR R4 server il2 reads patients, diagnoses,
    vital signs and labs from (https://ehr.example.org/fhir); unset means no EHR, and the pages
    and commands that would read it say so. IL2_EHR_TOKEN: the bearer token il2 sends it (or
    IL2_EHR_TOKEN_FILE, a file holding it); unset means requests carry no token.
    """

    database_url: str = "sqlite://"
    site_policy: Path | None = None
    study_key: bytes | None = field(default=None, repr=False)
    study_key_file: Path | None = None
    secure_cookies: bool = False
    forwarded_allow_ips: str = "127.0.0.1"
    demo: bool = False
    cds_clients: Path | None = None
    smart_client_id: str = ""
    smart_issuers: tuple[str, ...] = ()
    ehr_fhir_url: str | None = None
    ehr_token: str | None = field(default=None, repr=False)
    ehr_token_file: Path | None = None
    data_dir: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `environ` (the process environment by default)."""
        env = os.environ if environ is None else environ
        policy = env.get("IL2_SITE_POLICY", "").strip()
        url = env.get("IL2_DATABASE_URL", "").strip()
        if not url:
            url = f"sqlite:///{_data_dir(env) / 'il2.sqlite3'}"
        key = env.get("IL2_STUDY_KEY", "").strip()
        key_file = env.get("IL2_STUDY_KEY_FILE", "").strip()
        proxies = env.get("IL2_FORWARDED_ALLOW_IPS", "").strip()
        cds = env.get("IL2_CDS_CLIENTS", "").strip()
        issuers = env.get("IL2_SMART_ISSUERS", "").replace(",", " ").split()
        ehr = env.get("IL2_EHR_FHIR_URL", "").strip()
        ehr_token = env.get("IL2_EHR_TOKEN", "").strip()
        ehr_token_file = env.get("IL2_EHR_TOKEN_FILE", "").strip()
        return cls(
            smart_client_id=env.get("IL2_SMART_CLIENT_ID", "").strip(),
            smart_issuers=tuple(issuers),
            secure_cookies=env.get("IL2_SECURE_COOKIES", "").strip().lower() in _YES,
            demo=env.get("IL2_DEMO", "").strip().lower() in _YES,
            forwarded_allow_ips=proxies or "127.0.0.1",
            database_url=url,
            site_policy=Path(policy) if policy else None,
            cds_clients=Path(cds) if cds else None,
            ehr_fhir_url=ehr or None,
            ehr_token=ehr_token or None,
            ehr_token_file=Path(ehr_token_file) if ehr_token_file else None,
            study_key=key.encode("utf-8") if key else None,
            study_key_file=Path(key_file) if key_file else _data_dir(env) / "study.key",
            data_dir=_data_dir(env),
        )
