"""Audit the locked dependencies against a dated snapshot of the PyPA advisory database.

`python scripts/audit_lock.py` reads every `name==version` pin of `requirements/*.lock`, reads
the advisories kept in `security/advisories/` (OSV documents in YAML, one folder per normalized
package name, with a `SNAPSHOT` file naming the database commit and its date), and prints every
pin that an advisory affects, with the versions that fix it. It needs no network, and exits 1 if
any pin is affected, 2 if a locked package is not covered by the snapshot (the snapshot predates
the lock: run `make advisories`).

`python scripts/audit_lock.py refresh [--git-dir DIR]` rebuilds the snapshot from a clone of the
database (a fresh shallow clone of `ADVISORY_REPOSITORY`, or an existing clone, bare or not),
keeping only the advisories of the locked packages.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no annotations
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
LOCKS = (ROOT / "requirements" / "bootstrap.lock", ROOT / "requirements" / "dev.lock")
ADVISORIES = ROOT / "security" / "advisories"
ADVISORY_REPOSITORY = "https://github.com/pypa/advisory-database"
ECOSYSTEM = "PyPI"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
# Ties between events at one version: the range opens before it closes.
_EVENT_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2}


@dataclass(frozen=True)
class Pin:
    """One `name==version` line of a lock file; `name` is normalized (PEP 503)."""

    name: str
    version: Version


@dataclass(frozen=True)
class Finding:
    """A locked version that an advisory affects, and the versions that fix it (may be none)."""

    advisory: str
    package: str
    version: Version
    fixed: tuple[str, ...]

    def line(self) -> str:
        """The finding as one report line."""
        fixed = ", ".join(self.fixed) if self.fixed else "no fixed version"
        return f"{self.advisory} {self.package}=={self.version} fixed in: {fixed}"


def normalize(name: str) -> str:
    """A package name as PyPI and the advisory database file it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(text: str) -> list[Pin]:
    """Every `name==version` pin of a pip requirements file, in file order."""
    pins = []
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins.append(Pin(normalize(match.group(1)), Version(match.group(2))))
    return pins


def _version(text: object) -> Version | None:
    """`text` as a PEP 440 version, or None when it is not one (old releases may not be)."""
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def _sorted_events(events: Iterable[Mapping[str, Any]]) -> list[tuple[str, Version | None]]:
    """The events of a range as (kind, version), in version order; `introduced: 0` is None."""
    parsed: list[tuple[str, Version | None]] = []
    for event in events:
        for kind, value in event.items():
            if kind not in _EVENT_ORDER:
                continue  # `limit` bounds only GIT ranges
            if kind == "introduced" and str(value) == "0":
                parsed.append((kind, None))
                continue
            version = _version(value)
            if version is not None:
                parsed.append((kind, version))

    def key(item: tuple[str, Version | None]) -> tuple[int, Version, int]:
        kind, version = item
        return (0 if version is None else 1, version or Version("0"), _EVENT_ORDER[kind])

    return sorted(parsed, key=key)


def _closes(kind: str, bound: Version, version: Version) -> bool:
    """Whether a closing event (`fixed` or `last_affected` at `bound`) leaves `version` out."""
    return version >= bound if kind == "fixed" else version > bound


def in_range(version: Version, events: Iterable[Mapping[str, Any]]) -> bool:
    """Whether an OSV ECOSYSTEM range's events (introduced, fixed, last_affected) hold `version`.

    Events are read in version order: `introduced` opens the range at its version, `fixed` closes
    it at its version (which is itself unaffected), `last_affected` closes it just after.
    """
    affected = False
    for kind, bound in _sorted_events(events):
        if kind == "introduced" and (bound is None or version >= bound):
            affected = True
        elif kind != "introduced" and bound is not None and _closes(kind, bound, version):
            affected = False
    return affected


def _fixes(events: Iterable[Mapping[str, Any]], version: Version) -> list[str]:
    """The `fixed` versions of a range that lie above `version`."""
    found = []
    for kind, bound in _sorted_events(events):
        if kind == "fixed" and bound is not None and bound > version:
            found.append(str(bound))
    return found


def affects(advisory: Mapping[str, Any], pin: Pin) -> Finding | None:
    """The finding if `advisory` (an OSV document) affects the pinned version, else None.

    A withdrawn advisory affects nothing. An `affected` entry counts when it names the pin's
    package in the PyPI ecosystem and either lists the version in `versions` or holds it in one
    of its ECOSYSTEM ranges.
    """
    if advisory.get("withdrawn"):
        return None
    hit = False
    fixed: list[str] = []
    for entry in advisory.get("affected") or []:
        package = entry.get("package") or {}
        if package.get("ecosystem") != ECOSYSTEM or normalize(package.get("name", "")) != pin.name:
            continue
        listed = any(_version(v) == pin.version for v in entry.get("versions") or [])
        ranges = [r for r in entry.get("ranges") or [] if r.get("type") == "ECOSYSTEM"]
        held = [r for r in ranges if in_range(pin.version, r.get("events") or [])]
        if listed or held:
            hit = True
            for ecosystem_range in held or ranges:
                fixed.extend(_fixes(ecosystem_range.get("events") or [], pin.version))
    if not hit:
        return None
    ordered = sorted(set(fixed), key=Version)
    return Finding(str(advisory.get("id", "?")), pin.name, pin.version, tuple(ordered))


def load_advisories(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The advisories kept in `folder`, by normalized package name."""
    kept: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*/*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise TypeError(f"{path}: an advisory must be a mapping, found {type(document)}")
        kept.setdefault(normalize(path.parent.name), []).append(document)
    return kept


def read_snapshot(folder: Path) -> dict[str, str]:
    """The `key: value` lines of the snapshot's SNAPSHOT file."""
    fields = {}
    for line in (folder / "SNAPSHOT").read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith("#"):
            fields[key.strip()] = value.strip()
    return fields


def covered_packages(folder: Path) -> set[str]:
    """The package names the snapshot was filtered for (its `packages` line)."""
    return set(read_snapshot(folder).get("packages", "").split())


def audit(
    pins: Sequence[Pin], advisories: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[Finding]:
    """Every (advisory, pin) pair where the advisory affects the pinned version."""
    findings = []
    for pin in pins:
        for advisory in advisories.get(pin.name, []):
            finding = affects(advisory, pin)
            if finding is not None:
                findings.append(finding)
    return findings


def locked_pins(locks: Iterable[Path] = LOCKS) -> list[Pin]:
    """The pins of every lock file, each (name, version) once."""
    seen: dict[tuple[str, Version], Pin] = {}
    for lock in locks:
        for pin in read_lock(lock.read_text(encoding="utf-8")):
            seen.setdefault((pin.name, pin.version), pin)
    return list(seen.values())


def run_audit(locks: Sequence[Path], folder: Path) -> int:
    """Print the audit of `locks` against the snapshot in `folder`; the exit status."""
    pins = locked_pins(locks)
    snapshot = read_snapshot(folder)
    uncovered = sorted({pin.name for pin in pins} - covered_packages(folder))
    if uncovered:
        sys.stderr.write(
            f"the advisory snapshot does not cover {', '.join(uncovered)}: run `make advisories`\n"
        )
        return 2
    advisories = load_advisories(folder)
    findings = audit(pins, advisories)
    for finding in findings:
        sys.stdout.write(finding.line() + "\n")
    count = sum(len(v) for v in advisories.values())
    sys.stdout.write(
        f"{len(pins)} pins audited against {count} advisories of {len(advisories)} packages "
        f"(pypa/advisory-database {snapshot.get('commit', '?')[:12]} of "
        f"{snapshot.get('date', '?')}): {len(findings)} affected\n"
    )
    return 1 if findings else 0


def _git(git_dir: Path, *args: str) -> str:
    """The output of a git command run against `git_dir`."""
    done = subprocess.run(  # noqa: S603  (fixed git arguments, no shell)
        ["git", f"--git-dir={git_dir}", *args],  # noqa: S607  (git from PATH, as in the Makefile)
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def _git_dir(checkout: Path) -> Path:
    """The git directory of a clone, bare or not."""
    return checkout / ".git" if (checkout / ".git").is_dir() else checkout


def _advisory_paths(git_dir: Path, packages: Iterable[str]) -> Iterator[str]:
    """The paths of the PYSEC advisories of `packages` at HEAD of the database clone."""
    for package in sorted(packages):
        for path in _git(
            git_dir, "ls-tree", "-r", "--name-only", "HEAD", f"vulns/{package}/"
        ).split():
            if Path(path).name.startswith("PYSEC-") and path.endswith(".yaml"):
                yield path


def refresh(git_dir: Path, locks: Sequence[Path], folder: Path) -> int:
    """Rewrite the snapshot in `folder` from HEAD of `git_dir`, for the packages in `locks`."""
    packages = sorted({pin.name for pin in locked_pins(locks)})
    commit = _git(git_dir, "rev-parse", "HEAD").strip()
    date = _git(git_dir, "log", "-1", "--format=%cI", "HEAD").strip()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    kept = 0
    for path in _advisory_paths(git_dir, packages):
        target = folder / Path(path).relative_to("vulns")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_git(git_dir, "show", f"HEAD:{path}"), encoding="utf-8")
        kept += 1
    (folder / "SNAPSHOT").write_text(
        "# The PyPA advisory database at one commit, kept for the locked packages only.\n"
        "# Rewritten by `make advisories`; read by scripts/audit_lock.py.\n"
        f"repository: {ADVISORY_REPOSITORY}\n"
        f"commit: {commit}\n"
        f"date: {date}\n"
        f"files: {kept}\n"
        f"packages: {' '.join(packages)}\n",
        encoding="utf-8",
    )
    sys.stdout.write(
        f"kept {kept} advisories of {len(packages)} locked packages at {commit} ({date})\n"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: `audit` (default) or `refresh`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", nargs="?", choices=("audit", "refresh"), default="audit")
    parser.add_argument("--advisories", type=Path, default=ADVISORIES)
    parser.add_argument("--lock", type=Path, action="append", help="lock files (default: all)")
    parser.add_argument("--git-dir", type=Path, help="refresh from this clone instead of cloning")
    args = parser.parse_args(argv)
    locks = args.lock or list(LOCKS)
    if args.command == "audit":
        return run_audit(locks, args.advisories)
    if args.git_dir:
        return refresh(_git_dir(args.git_dir), locks, args.advisories)
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "advisory-database.git"
        subprocess.run(  # noqa: S603  (fixed git arguments, no shell)
            ["git", "clone", "--quiet", "--bare", "--depth=1", ADVISORY_REPOSITORY, str(clone)],  # noqa: S607
            check=True,
        )
        return refresh(clone, locks, args.advisories)


if __name__ == "__main__":
    sys.exit(main())
