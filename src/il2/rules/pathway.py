"""Load the course pathway (pathway.toml) into the pathway engine's frozen table."""

from __future__ import annotations

from il2.domain.pathway import BLOCKING, Block, Condition, Next, PathwayTable, Rule
from il2.rules.reader import Node, read_bundled

_BLOCKS = (
    "response-scan", "progression", "retreatment", "incomplete", "further-courses", "cycle-limit",
)  # fmt: skip
_CONDITIONS = ("shrinkage", "stable-or-responding")
_NOTES = ("rest-after-discharge", "rescan-before-course", "course-spacing")
_EXTRA_KEYS = {
    "progression": ("categories",),
    "cycle-limit": ("policy",),
}


def _outcome(node: Node) -> Next:
    return Next(node.choice("outcome", tuple(n.value for n in BLOCKING)))


def _block(rules: Node, rule_id: str) -> Block:
    node = rules.table(rule_id)
    node.only("outcome", "source", *_EXTRA_KEYS.get(rule_id, ()))
    return Block(rule_id, _outcome(node), node.text("source"))


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


def _condition(
    rules: Node, rule_id: str, known: tuple[str, ...], progression: frozenset[str]
) -> Condition:
    """One condition on the response scan; without a policy, the categories alone must decide."""
    node = rules.table(rule_id)
    node.only("outcome", "policy", "never", "by_category", "source")
    never = _categories(node, "never", known)
    by_category = _categories(node, "by_category", known)
    if by_category & (never | progression):
        raise node.fail("by_category", "names a category that never meets the condition")
    policy = node.text("policy") if node.has("policy") else None
    undecided = set(known) - by_category - never - progression
    if policy is None and undecided:
        raise node.fail(
            "by_category",
            f"leaves {', '.join(sorted(undecided))} undecided: list them in by_category or "
            "never, or name the minimum-shrinkage policy that measures them",
        )
    return Condition(
        id=rule_id,
        outcome=_outcome(node),
        never=never,
        by_category=by_category,
        policy=policy,
        source=node.text("source"),
    )


def _regimen_conditions(node: Node, conditions: tuple[str, ...]) -> dict[str, str]:
    node.only("default", "regimens")
    choices: dict[str, str] = {}
    if not node.has("regimens"):
        return choices
    for regimen_id, value in node.table("regimens").data.items():
        if value not in conditions:
            raise node.fail(
                f"regimens.{regimen_id}", f"{value!r} is not a condition ({', '.join(conditions)})"
            )
        choices[regimen_id] = str(value)
    return choices


def pathway_table(data: Node) -> PathwayTable:
    """Validate pathway.toml and build the pathway table; errors name the file and the field."""
    data.only("meta", "responses", "conditions", "rules")
    responses = data.table("responses")
    responses.only("categories", "source")
    categories = responses.texts("categories")
    if not categories or len(set(categories)) != len(categories):
        raise responses.fail("categories", "must list each response category once")
    rules = data.table("rules")
    rules.only(*_BLOCKS, *_CONDITIONS, *_NOTES)
    progression = _categories(rules.table("progression"), "categories", categories)
    chosen = data.table("conditions")
    return PathwayTable(
        categories=categories,
        categories_source=responses.text("source"),
        progression_categories=progression,
        conditions={c: _condition(rules, c, categories, progression) for c in _CONDITIONS},
        default_condition=chosen.choice("default", _CONDITIONS),
        regimen_conditions=_regimen_conditions(chosen, _CONDITIONS),
        response_scan=_block(rules, "response-scan"),
        progression=_block(rules, "progression"),
        retreatment=_block(rules, "retreatment"),
        incomplete=_block(rules, "incomplete"),
        further_courses=_block(rules, "further-courses"),
        cycle_limit=_block(rules, "cycle-limit"),
        cycle_limit_policy=rules.table("cycle-limit").text("policy"),
        rest_after_discharge=_note(rules, "rest-after-discharge"),
        rescan_before_course=_note(rules, "rescan-before-course"),
        course_spacing=_note(rules, "course-spacing"),
        version=data.table("meta").text("version"),
    )


def load_pathway() -> PathwayTable:
    """The bundled pathway table."""
    return pathway_table(Node(read_bundled("pathway.toml"), "pathway.toml"))
