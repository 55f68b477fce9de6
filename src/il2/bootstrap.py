"""Composition root: builds what the edges need from settings; no module-level globals."""

from __future__ import annotations

from dataclasses import dataclass

from il2.config import Settings
from il2.rules.loader import RuleSet, load_rules


@dataclass(frozen=True, slots=True)
class App:
    """Everything a command or request needs, built once at start-up."""

    settings: Settings
    rules: RuleSet


def build_app(settings: Settings | None = None) -> App:
    """Load settings and rule tables; fails loudly on a bad rule or policy file."""
    settings = settings or Settings.from_environment()
    return App(settings=settings, rules=load_rules(site_policy=settings.site_policy))
