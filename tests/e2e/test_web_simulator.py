"""The research simulator page: who may open and run it, a small run's figures and table (the
counts those of `il2 trial`'s engine for the same seed), refusals beside their field, and a run
that changes nothing stored (no patient record is read, so nothing is audited).

The simulator reads no database, so one SQLite site serves the whole module (the page's
behaviour does not depend on the database kind; the other pages' tests cover both kinds)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from tests.e2e.test_web_outcomes import TestClient, _signed_in
from tests.integration.builders import staff
from tests.integration.conftest import FixedClock
from tests.web_client import FormClient

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.science.mechanism.trial import Arm, run_trial
from il2.web.app import web_router

PATH = "/research/simulator"
RUN = {"arms": "hd-label", "diagnosis": "melanoma", "patients": "300", "seed": "7"}
ALLOWED = ("physician", "researcher")
REFUSED = ("nurse", "pharmacist", "coordinator", "administrator")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """il2 on a migrated SQLite file with one user per role, for the whole module."""
    path = tmp_path_factory.mktemp("simulator") / "il2.sqlite3"
    built = build_app(Settings(database_url=f"sqlite:///{path}"), clock=FixedClock())
    upgrade_database(built)
    staff(built)
    yield built
    built.engine.dispose()


@pytest.fixture
def client(app: App) -> Iterator[FormClient]:
    asgi = FastAPI()
    asgi.include_router(web_router(app))
    with FormClient(asgi) as test_client:
        yield test_client


def _rows(app: App) -> dict[str, int]:
    """Rows in every table of the database (audit trail included)."""
    with app.engine.connect() as connection:
        counts = {}
        for name in sa.inspect(connection).get_table_names():
            query = sa.text(f'SELECT count(*) FROM "{name}"')  # noqa: S608 - the inspector's names
            counts[name] = int(connection.execute(query).scalar_one())
        return counts


def _nav(page: str) -> str:
    found = re.search(r'<nav aria-label="Main">.*?</nav>', page, re.DOTALL)
    assert found is not None
    return found.group(0)


@pytest.mark.parametrize("username", ALLOWED)
def test_physicians_and_researchers_find_the_form_with_help_for_each_field(
    client: FormClient, username: str
) -> None:
    _signed_in(client, username)
    home = client.get("/")
    assert f'href="{PATH}"' in _nav(home.text)
    page = client.get(PATH)
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    for field in ("arms", "diagnosis", "patients", "seed"):
        assert f'id="f-{field}-hint"' in page.text
    assert 'name="arms" value="hd-label" checked' in page.text
    assert 'value="2000"' in page.text
    assert "il2 trial runs millions" in text
    assert 'name="il2_csrf"' in page.text or "csrf" in page.text
    # only regimens the model can simulate are offered: no chemotherapy companion
    assert 'value="biochemo-cvd"' not in page.text


@pytest.mark.parametrize("username", REFUSED)
def test_other_roles_are_refused_and_not_offered_the_link(
    client: FormClient, app: App, username: str
) -> None:
    _signed_in(client, username)
    assert f'href="{PATH}"' not in _nav(client.get("/").text)
    assert client.get(PATH).status_code == 403
    before = _rows(app)["audit"]
    assert client.post(PATH, data=RUN).status_code == 403
    assert _rows(app)["audit"] == before + 1  # the refusal is audited, as every refusal is


def test_signed_out_the_page_sends_to_sign_in(client: FormClient) -> None:
    answer = client.get(PATH, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in")


def test_a_form_posted_without_the_token_is_refused(client: FormClient) -> None:
    _signed_in(client, "researcher")
    assert TestClient.request(client, "POST", PATH, data=RUN).status_code == 403


def test_a_run_of_300_shows_four_figures_the_table_and_methods_and_stores_nothing(
    client: FormClient, app: App
) -> None:
    _signed_in(client, "researcher")
    before = _rows(app)
    answer = client.post(PATH, data=RUN)
    assert answer.status_code == 200, answer.text
    page = answer.text
    for figure in ("rates", "occupancy", "trajectories-1", "waterfall-1"):
        block = re.search(rf'<figure class="plot[^"]*" id="figure-{figure}">(.*?)</figure>', page,
                          re.DOTALL)  # fmt: skip
        assert block is not None, figure
        assert "<svg" in block.group(1)
        assert re.search(r"<figcaption>[^<]{40,}</figcaption>", block.group(1)), figure
    expected = run_trial([Arm("hd-label")], "melanoma", 300, 7, rules=app.services.rules).arms[0]
    table = re.search(r'<table class="data" id="arms-table">(.*?)</table>', page, re.DOTALL)
    assert table is not None
    cells = re.findall(r"<td>(.*?)</td>", table.group(1))
    assert cells[0] == "300"
    orr = expected.orr
    assert cells[1].startswith(f"{100 * orr.value:.1f}%")
    assert f"{100 * orr.ci95[0]:.1f}\u2013{100 * orr.ci95[1]:.1f}" in cells[1]  # an en dash
    assert cells[2].startswith(f"{100 * expected.cr_rate.value:.1f}%")
    assert cells[3].startswith(f"{100 * expected.pr_rate.value:.1f}%")
    assert cells[4:] == [str(expected.counts["SD"]), str(expected.counts["PD"])]
    text = html.unescape(page)
    assert "Label pool (270 patients)" in text  # the published figures beside
    assert re.search(r"Time taken: \d+\.\d s\.", text)
    methods = re.search(r'<p id="methods">(.*?)</p>', text, re.DOTALL)
    assert methods is not None
    assert "Calibration:" in methods.group(1)
    assert "Held out" in methods.group(1)
    assert 'name="arms" value="hd-label" checked' in page  # the form keeps what was run
    assert _rows(app) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patients": "0"}, "patients"),
        ({"patients": "1000000"}, "patients"),
        ({"patients": "many"}, "patients"),
        ({"arms": "no-such-regimen"}, "arms"),
        ({"arms": "biochemo-cvd"}, "arms"),
        ({"arms": ""}, "arms"),
        ({"diagnosis": "glioma"}, "diagnosis"),
        ({"seed": "-1"}, "seed"),
    ],
)
def test_unusable_input_is_refused_beside_its_field_and_stores_nothing(
    client: FormClient, app: App, change: dict[str, str], field: str
) -> None:
    _signed_in(client, "physician")
    before = _rows(app)
    data = {k: v for k, v in {**RUN, **change}.items() if v != ""}
    answer = client.post(PATH, data=data)
    assert answer.status_code == 422, answer.text
    assert f'id="f-{field}-error"' in answer.text
    assert 'class="error-summary"' in answer.text
    assert "<figure" not in answer.text
    if field in {"patients", "seed"}:  # what was typed is kept for correcting
        assert f'value="{change[field]}"' in answer.text
    assert _rows(app) == before
