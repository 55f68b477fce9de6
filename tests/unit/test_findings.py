from decimal import Decimal

import pytest

from il2.domain.errors import InvalidInputError
from il2.domain.findings import FieldSpec, FieldType, read_findings
from il2.rules.loader import RuleSet


def test_nested_groups_flatten_to_dotted_paths(rules: RuleSet) -> None:
    found = read_findings({"labs": {"creatinine_mg_dl": 1.1}, "ecog": 1}, rules.screening_fields)
    assert found == {"labs.creatinine_mg_dl": Decimal("1.1"), "ecog": Decimal(1)}


def test_null_means_missing(rules: RuleSet) -> None:
    assert read_findings({"ecog": None, "labs": None}, rules.screening_fields) == {}


@pytest.mark.parametrize(
    ("document", "field", "allowed"),
    [
        ({"ecog": 1.5}, "ecog", "a whole number from 0 to 4"),
        ({"ecog": 5}, "ecog", "a whole number from 0 to 4"),
        ({"ecog": "1"}, "ecog", "a whole number"),
        ({"ecog": True}, "ecog", "a whole number"),
        ({"labs": {"creatinine_mg_dl": 110}}, "labs.creatinine_mg_dl", "0.05 to 30 mg/dL"),
        ({"labs": {"creatinin_mg_dl": 1.1}}, "labs.creatinin_mg_dl", "creatinine_mg_dl"),
        ({"diagnosis": "sarcoma"}, "diagnosis", "'melanoma'"),
        ({"pregnant": "no"}, "pregnant", "true or false"),
        ({"conditions": ["autoimune_disease"]}, "conditions", "autoimmune_disease"),
        ({"conditions": "autoimmune_disease"}, "conditions", "a list of terms"),
        ({"labs": [1.1]}, "labs", "a JSON object"),
        ({"smoker": True}, "smoker", "a known field"),
    ],
)
def test_bad_input_is_refused_naming_field_and_what_is_allowed(
    rules: RuleSet, document: dict[str, object], field: str, allowed: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        read_findings(document, rules.screening_fields)
    assert caught.value.field == field
    assert allowed in caught.value.allowed


def test_a_document_that_is_not_an_object_is_refused(rules: RuleSet) -> None:
    with pytest.raises(InvalidInputError, match="document"):
        read_findings([], rules.screening_fields)


def test_a_field_without_guards_describes_itself_by_kind_and_unit() -> None:
    spec = FieldSpec(path="x", type=FieldType.NUMBER, unit="mL")
    assert spec.describe() == "a number mL"
