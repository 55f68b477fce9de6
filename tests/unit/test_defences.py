"""Security review D5 and D18: the origin check and the cookie settings, without a server."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from il2.config import Settings
from il2.web.defences import foreign_origin

OWN = "http://ward.example:8000"


def _request(headers: dict[str, str]) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "server": ("ward.example", 8000),
        "path": "/patients",
        "query_string": b"",
        "headers": [(b"host", b"ward.example:8000")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope)


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=st.from_regex(r"[a-z0-9]{1,12}(\.[a-z]{2,5}){0,2}", fullmatch=True),
    port=st.integers(1, 65535),
)
def test_any_other_origin_is_foreign(scheme: str, host: str, port: int) -> None:
    origin = f"{scheme}://{host}:{port}"
    if origin == OWN:
        return
    assert foreign_origin(_request({"Origin": origin})) is not None
    assert foreign_origin(_request({"Referer": f"{origin}/patients/new"})) is not None


def test_the_apps_own_origin_and_a_request_without_browser_headers_pass() -> None:
    assert foreign_origin(_request({"Origin": OWN})) is None
    assert foreign_origin(_request({"Referer": f"{OWN}/patients/new"})) is None
    assert foreign_origin(_request({"Sec-Fetch-Site": "same-origin", "Origin": OWN})) is None
    assert foreign_origin(_request({})) is None  # not a browser: the CSRF token decides


def test_a_browser_saying_same_site_or_null_is_foreign() -> None:
    assert foreign_origin(_request({"Sec-Fetch-Site": "same-site", "Origin": OWN})) is not None
    assert foreign_origin(_request({"Origin": "null"})) is not None


def test_the_cookie_and_proxy_settings_come_from_the_environment() -> None:
    default = Settings.from_environment({"HOME": "/home/ward"})
    assert (default.secure_cookies, default.forwarded_allow_ips) == (False, "127.0.0.1")
    chosen = Settings.from_environment(
        {"HOME": "/home/ward", "IL2_SECURE_COOKIES": "1", "IL2_FORWARDED_ALLOW_IPS": "10.0.0.5"}
    )
    assert (chosen.secure_cookies, chosen.forwarded_allow_ips) == (True, "10.0.0.5")
