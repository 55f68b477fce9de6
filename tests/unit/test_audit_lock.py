"""The dependency audit: OSV range logic on hand-made advisories, and the locks against the snapshot."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_lock", ROOT / "scripts" / "audit_lock.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


audit_lock = _load_checker()


def advisory(
    *events: dict[str, str], versions: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    """A small OSV document for package `demo-pkg` with one ECOSYSTEM range."""
    entry: dict[str, Any] = {
        "package": {"name": "Demo_Pkg", "ecosystem": "PyPI"},
        "ranges": [{"type": "ECOSYSTEM", "events": list(events)}] if events else [],
    }
    if versions:
        entry["versions"] = list(versions)
    return {"id": "PYSEC-0000-1", "affected": [entry], **extra}


def hit(document: dict[str, Any], version: str) -> bool:
    pin = audit_lock.Pin("demo-pkg", Version(version))
    return audit_lock.affects(document, pin) is not None


INTRODUCED_FIXED = advisory({"introduced": "1.2"}, {"fixed": "1.4.1"})


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.1.9", False),  # before introduced
        ("1.2", True),  # at introduced
        ("1.2.0", True),  # same version spelled longer
        ("1.4.0", True),
        ("1.4.1rc1", True),  # a pre-release of the fix comes before it
        ("1.4.1", False),  # exactly at fixed
        ("1.4.1.post1", False),
        ("2.0", False),
    ],
)
def test_introduced_fixed_range(version: str, *, expected: bool) -> None:
    assert hit(INTRODUCED_FIXED, version) is expected


def test_introduced_zero_opens_at_the_first_release_including_pre_releases() -> None:
    document = advisory({"introduced": "0"}, {"fixed": "2.0"})
    assert hit(document, "0.0.1a1")
    assert hit(document, "2.0b3")
    assert not hit(document, "2.0")


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2.9", False), ("3.0", True), ("3.5", True), ("3.5.post1", False), ("3.6a1", False)],
)
def test_last_affected_is_itself_affected(version: str, *, expected: bool) -> None:
    document = advisory({"introduced": "3.0"}, {"last_affected": "3.5"})
    assert hit(document, version) is expected


def test_several_introduced_fixed_pairs_in_any_order() -> None:
    document = advisory(
        {"fixed": "2.1"}, {"introduced": "2.0"}, {"introduced": "0"}, {"fixed": "1.5"}
    )
    assert [hit(document, v) for v in ("1.0", "1.5", "1.9", "2.0", "2.0.5", "2.1")] == [
        True,
        False,
        False,
        True,
        True,
        False,
    ]


def test_explicit_versions_list_without_ranges() -> None:
    document = advisory(versions=("0.9", "1.0rc1", "1.0"))
    assert hit(document, "1.0rc1")
    assert hit(document, "1.0.0")
    assert not hit(document, "1.0.1")


def test_withdrawn_advisory_affects_nothing() -> None:
    document = advisory({"introduced": "0"}, {"fixed": "9"}, withdrawn="2024-01-01T00:00:00Z")
    assert not hit(document, "1.0")
    assert hit({k: v for k, v in document.items() if k != "withdrawn"}, "1.0")


def test_other_package_or_ecosystem_or_git_range_does_not_count() -> None:
    other = advisory({"introduced": "0"})
    other["affected"][0]["package"]["name"] = "demo-pkg-extra"
    assert not hit(other, "1.0")
    npm = advisory({"introduced": "0"})
    npm["affected"][0]["package"]["ecosystem"] = "npm"
    assert not hit(npm, "1.0")
    git = advisory({"introduced": "0"})
    git["affected"][0]["ranges"][0]["type"] = "GIT"
    assert not hit(git, "1.0")


def test_finding_names_the_fixed_versions_above_the_pin() -> None:
    document = advisory(
        {"introduced": "0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.3"}
    )
    finding = audit_lock.affects(document, audit_lock.Pin("demo-pkg", Version("2.1")))
    assert finding is not None
    assert (finding.advisory, finding.package, finding.fixed) == (
        "PYSEC-0000-1",
        "demo-pkg",
        ("2.3",),
    )
    assert finding.line() == "PYSEC-0000-1 demo-pkg==2.1 fixed in: 2.3"


def test_read_lock_reads_pins_and_ignores_hashes_and_comments() -> None:
    text = (
        "Foo.Bar==1.0 \\\n"
        "    --hash=sha256:00\n"
        "    # via il2\n"
        "psycopg[binary]==3.2.1 ; python_version >= '3.11'\n"
        "# pytest==1.0\n"
    )
    assert audit_lock.read_lock(text) == [
        audit_lock.Pin("foo-bar", Version("1.0")),
        audit_lock.Pin("psycopg", Version("3.2.1")),
    ]


@given(
    st.tuples(*[st.integers(0, 6)] * 3).map(lambda t: tuple(sorted(t))),
)
def test_range_holds_exactly_the_versions_from_introduced_up_to_fixed(
    bounds: tuple[int, int, int],
) -> None:
    introduced, version, fixed = (Version(f"1.{n}") for n in bounds)
    events = [{"fixed": str(fixed)}, {"introduced": str(introduced)}]
    for candidate in (introduced, version, fixed):
        assert audit_lock.in_range(candidate, events) is (introduced <= candidate < fixed)


def _snapshot(tmp_path: Path, documents: dict[str, list[dict[str, Any]]], packages: str) -> Path:
    folder = tmp_path / "advisories"
    for package, docs in documents.items():
        (folder / package).mkdir(parents=True)
        for number, document in enumerate(docs):
            (folder / package / f"PYSEC-0000-{number}.yaml").write_text(yaml.safe_dump(document))
    folder.mkdir(exist_ok=True)
    (folder / "SNAPSHOT").write_text(f"commit: abc\ndate: 2024-10-10\npackages: {packages}\n")
    return folder


def test_audit_exits_1_and_reports_a_vulnerable_pin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "dev.lock"
    lock.write_text("demo-pkg==1.3 \\\n    --hash=sha256:00\nother==1.0\n")
    folder = _snapshot(tmp_path, {"demo-pkg": [INTRODUCED_FIXED]}, "demo-pkg other")
    assert audit_lock.run_audit([lock], folder) == 1
    assert "PYSEC-0000-1 demo-pkg==1.3 fixed in: 1.4.1" in capsys.readouterr().out
    lock.write_text("demo-pkg==1.4.1\nother==1.0\n")
    assert audit_lock.run_audit([lock], folder) == 0


def test_audit_exits_2_when_the_snapshot_does_not_cover_a_locked_package(tmp_path: Path) -> None:
    lock = tmp_path / "dev.lock"
    lock.write_text("demo-pkg==1.5\nnew-dependency==1.0\n")
    folder = _snapshot(tmp_path, {"demo-pkg": [INTRODUCED_FIXED]}, "demo-pkg")
    assert audit_lock.run_audit([lock], folder) == 2


def test_locked_versions_have_no_known_advisory_in_the_snapshot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The project's locks against security/advisories: fails on any affected pin."""
    status = audit_lock.main(["audit"])
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    assert ": 0 affected" in out.out


def test_every_lock_pin_carries_a_hash() -> None:
    """`pip install --require-hashes` refuses a lock with a pin that has none."""
    for lock in audit_lock.LOCKS:
        blocks = lock.read_text().split("\n")
        pins = [i for i, line in enumerate(blocks) if audit_lock.read_lock(line)]
        for index in pins:
            assert blocks[index].endswith("\\"), blocks[index]
            assert blocks[index + 1].strip().startswith("--hash=sha256:"), blocks[index]
