"""Load the course pathway (pathway.toml) into the pathway engine's frozen table."""

from __future__ import annotations

from il2.domain.pathway import BLOCKING, Block, Next, PathwayTable, Rule, Shrinkage
from il2.domain.quantities import Comparison
from il2.rules.reader import Node, read_bundled

_BLOCKS = (
    "response-scan", "progression", "shrinkage", "retreatment", "incomplete", "further-courses",
    "cycle-limit",
)  # fmt: skip
_NOTES = ("rest-after-discharge", "rescan-before-course")
_EXTRA_KEYS = {
    "progression": ("categories",),
    "shrinkage": ("comparison", "limit_pct", "never", "by_category"),
    "cycle-limit": ("policy",),
}


def _block(rules: Node, rule_id: str) -> Block:
    node = rules.table(rule_id)
    node.only("outcome", "source", *_EXTRA_KEYS.get(rule_id, ()))
    outcome = node.choice("outcome", tuple(n.value for n in BLOCKING))
    return Block(rule_id, Next(outcome), node.text("source"))


def _note(rules: Node, rule_id: str) -> Rule:
    node = rules.table(rule_id)
    node.only("source")
    return Rule(rule_id, node.text("source"))


def _categories(node: Node, key: str, known: tuple[str, ...]) -> frozenset[str]:
    values = node.texts(key)
    for value in values:
        if value not in known:
            raise node.fail(key, f"{value!r} is not a response category ({', '.join(known)})")
    return frozenset(values)


def _shrinkage(node: Node, known: tuple[str, ...], progression: frozenset[str]) -> Shrinkage:
    never = _categories(node, "never", known)
    by_category = _categories(node, "by_category", known)
    if by_category & (never | progression):
        raise node.fail("by_category", "names a category that never shows shrinkage")
    return Shrinkage(
        comparison=Comparison(node.choice("comparison", tuple(c.value for c in Comparison))),
        limit_pct=node.number("limit_pct"),
        never=never,
        by_category=by_category,
    )


def pathway_table(data: Node) -> PathwayTable:
    """Validate pathway.toml and build the pathway table; errors name the file and the field."""
    data.only("meta", "responses", "rules")
    responses = data.table("responses")
    responses.only("categories", "source")
    categories = responses.texts("categories")
    if not categories or len(set(categories)) != len(categories):
        raise responses.fail("categories", "must list each response category once")
    rules = data.table("rules")
    rules.only(*_BLOCKS, *_NOTES)
    progression = _categories(rules.table("progression"), "categories", categories)
    return PathwayTable(
        categories=categories,
        categories_source=responses.text("source"),
        progression_categories=progression,
        shrinkage=_shrinkage(rules.table("shrinkage"), categories, progression),
        response_scan=_block(rules, "response-scan"),
        progression=_block(rules, "progression"),
        no_shrinkage=_block(rules, "shrinkage"),
        retreatment=_block(rules, "retreatment"),
        incomplete=_block(rules, "incomplete"),
        further_courses=_block(rules, "further-courses"),
        cycle_limit=_block(rules, "cycle-limit"),
        cycle_limit_policy=rules.table("cycle-limit").text("policy"),
        rest_after_discharge=_note(rules, "rest-after-discharge"),
        rescan_before_course=_note(rules, "rescan-before-course"),
        version=data.table("meta").text("version"),
    )


def load_pathway() -> PathwayTable:
    """The bundled pathway table."""
    return pathway_table(Node(read_bundled("pathway.toml"), "pathway.toml"))
