"""axe-core, run on the page a browser test has open: no serious or critical violation allowed.

axe-core's JavaScript comes bundled in the axe-playwright-python package (a dev dependency).
The full report of every run is kept as tests/browser/artifacts/axe-<label>.json, beside the
screenshots, so a moderate or minor finding can be read after the run.
"""

from __future__ import annotations

import json
import re
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.browser.conftest import ARTIFACTS

# WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING = frozenset({"serious", "critical"})
_AXE = Axe()


def run_axe(page: Page, label: str) -> dict[str, Any]:
    """Run axe-core on the page as it is now; keep its whole answer as axe-<label>.json."""
    options = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
    report: dict[str, Any] = _AXE.run(page, options=options).response
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", label)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report


def blocking(report: dict[str, Any]) -> list[str]:
    """Each serious or critical violation in an axe report, one line each: rule, impact, help
    text and the selectors of the failing nodes."""
    lines = []
    for violation in report["violations"]:
        if violation.get("impact") not in BLOCKING:
            continue
        targets = "; ".join(" ".join(map(str, node["target"])) for node in violation["nodes"])
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {targets}")
    return lines


def assert_accessible(page: Page, label: str) -> None:
    """Fail listing every serious or critical axe-core violation on the current page."""
    report = run_axe(page, label)
    found = blocking(report)
    assert not found, f"axe on {label} ({page.url}):\n" + "\n".join(found)
