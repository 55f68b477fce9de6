"""Security review D18: `il2 serve` believes X-Forwarded-Proto only from trusted proxies.

The served app (the real assembly, started as a command) makes its cookies Secure when the
request came over https; behind a proxy terminating TLS that is the proxy's word, taken only
from the addresses in --forwarded-allow-ips (IL2_FORWARDED_ALLOW_IPS; 127.0.0.1 by default).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.test_crash import serving

HTTPS = {"X-Forwarded-Proto": "https"}


def _csrf_cookie(url: str) -> str:
    answer = httpx.get(f"{url}/sign-in", headers=HTTPS, timeout=30.0)
    assert answer.status_code == 200
    assert answer.headers["x-frame-options"] == "DENY"  # the served assembly has the headers
    return next(c for c in answer.headers.get_list("set-cookie") if "il2_csrf=" in c)


def test_a_trusted_proxys_https_makes_the_cookies_secure(tmp_path: Path) -> None:
    with serving(f"sqlite:///{tmp_path / 'il2.sqlite3'}", tmp_path / "serve.log") as server:
        cookie = _csrf_cookie(server.url)
    assert cookie.startswith("__Host-il2_csrf=")
    assert "secure" in cookie.lower()


def test_an_untrusted_address_cannot_claim_https(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IL2_FORWARDED_ALLOW_IPS", "10.9.9.9")
    with serving(f"sqlite:///{tmp_path / 'il2.sqlite3'}", tmp_path / "serve.log") as server:
        cookie = _csrf_cookie(server.url)
    assert cookie.startswith("il2_csrf=")
    assert "secure" not in cookie.lower()
