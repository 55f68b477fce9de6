"""Settings from the environment, read only by the composition root (bootstrap)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    """Where il2 finds the site's choices.

    IL2_SITE_POLICY: path to the site's policy file (TOML); unset means the bundled defaults.
    """

    site_policy: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `environ` (the process environment by default)."""
        env = os.environ if environ is None else environ
        policy = env.get("IL2_SITE_POLICY", "").strip()
        return cls(site_policy=Path(policy) if policy else None)
