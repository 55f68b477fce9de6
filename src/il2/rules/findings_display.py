"""How the bedside form shows the findings list: by organ system, in clinical words.

Display only: the codes and what they do are the before-dose rules'. The file's order is kept
(systems by how common their reactions are, and within each the commoner finding first).
"""

from __future__ import annotations

from dataclasses import dataclass

from il2.rules.reader import Node, read_bundled

FILE = "bedside_findings.toml"


@dataclass(frozen=True, slots=True)
class FindingSystem:
    """One organ system's findings: (code, words) in the order to show them."""

    title: str
    terms: tuple[tuple[str, str], ...]


def _terms(node: Node) -> tuple[tuple[str, str], ...]:
    pairs = node.raw("terms")
    if not isinstance(pairs, list):
        raise node.fail("terms", "must be a list of [code, words] pairs")
    read = []
    for pair in pairs:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise node.fail("terms", f"has {pair!r}; each item is a [code, words] pair of texts")
        read.append((pair[0], pair[1]))
    return tuple(read)


def load_findings_display() -> tuple[FindingSystem, ...]:
    """The bundled systems in their order; a code shown twice is refused, naming it."""
    root = Node(read_bundled(FILE), FILE)
    root.only("meta", "system")
    systems = []
    seen: set[str] = set()
    for node in root.tables("system"):
        node.only("title", "terms")
        terms = _terms(node)
        for code, _ in terms:
            if code in seen:
                raise node.fail("terms", f"shows {code!r} a second time")
            seen.add(code)
        systems.append(FindingSystem(node.text("title"), terms))
    return tuple(systems)
