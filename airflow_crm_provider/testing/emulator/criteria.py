"""
The ``criteria`` key of a job-mode mass update: a filter on the custom view's records.

The key is the v8 OAS's (``Mass_Update_Body_Wrapper``) and the SDK's (``set_criteria``).

A criterion is ``{"field": api_name | {"api_name"}, "comparator", "value"}`` or a group
``{"group_operator": "and" | "or", "group": [criterion, ...]}``; the body holds one criterion or a
list of them (all must match). Comparators are the OAS's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_crm_provider.testing.emulator.store import Module

MAX_DEPTH = 5


def _text(value: Any) -> str:
    return "" if value is None else str(value).lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(comparator: str, actual: Any, expected: Any) -> bool:
    """Apply one comparator to a record's value (text comparisons ignore case, as Zoho's do)."""
    values = actual if isinstance(actual, list) else [actual]
    if comparator in ("equal", "not_equal"):
        hit = any(_text(v) == _text(expected) for v in values)
        return hit if comparator == "equal" else not hit
    if comparator in ("in", "not_in"):
        options = {_text(e) for e in expected}
        hit = any(_text(v) in options for v in values)
        return hit if comparator == "in" else not hit
    if comparator in ("starts_with", "ends_with", "contains", "not_contains"):
        needle = _text(expected)
        if comparator == "starts_with":
            return any(_text(v).startswith(needle) for v in values)
        if comparator == "ends_with":
            return any(_text(v).endswith(needle) for v in values)
        hit = any(needle in _text(v) for v in values)
        return hit if comparator == "contains" else not hit
    number = _number(actual)
    if comparator in ("between", "not_between"):
        low, high = (_number(e) for e in expected)
        inside = number is not None and low is not None and high is not None and low <= number <= high
        return inside if comparator == "between" else not inside
    bound = _number(expected)
    if number is None or bound is None:
        return False
    return {
        "greater_than": number > bound,
        "greater_equal": number >= bound,
        "less_than": number < bound,
        "less_equal": number <= bound,
    }[comparator]


_COMPARATORS = frozenset(
    {
        "equal",
        "not_equal",
        "in",
        "not_in",
        "starts_with",
        "ends_with",
        "contains",
        "not_contains",
        "greater_than",
        "greater_equal",
        "less_than",
        "less_equal",
        "between",
        "not_between",
    }
)


def compile_criteria(criteria: Any, module: Module, depth: int = 0) -> Callable[[dict[str, Any]], bool] | str:
    """
    Turn ``criteria`` into a record predicate, or return why it is not valid.

    :param criteria: one criterion or group, or a list of them (all must match).
    :param module: the module whose fields the criteria name.
    :param depth: nesting depth so far (groups nest at most :data:`MAX_DEPTH` deep).
    """
    if depth > MAX_DEPTH:
        return f"criteria nest more than {MAX_DEPTH} groups deep"
    if isinstance(criteria, list):
        parts = [compile_criteria(c, module, depth + 1) for c in criteria]
        if not parts:
            return "criteria is an empty list"
        return _combine("and", parts)
    if not isinstance(criteria, dict):
        return f"a criterion must be an object, got {type(criteria).__name__}"
    if "group" in criteria:
        operator = str(criteria.get("group_operator", "and")).lower()
        if operator not in ("and", "or") or not isinstance(criteria["group"], list) or not criteria["group"]:
            return "a group needs group_operator and or or, and a non-empty group list"
        return _combine(operator, [compile_criteria(c, module, depth + 1) for c in criteria["group"]])
    field = criteria.get("field")
    api_name = field.get("api_name") if isinstance(field, dict) else field
    comparator = criteria.get("comparator")
    if not isinstance(api_name, str) or api_name not in module.fields:
        return f"unknown field {api_name!r} in criteria"
    if comparator not in _COMPARATORS:
        return f"unknown comparator {comparator!r}; use one of {sorted(_COMPARATORS)}"
    expected = criteria.get("value")
    if comparator in ("in", "not_in", "between", "not_between") and not isinstance(expected, list):
        return f"comparator {comparator} needs a list value"
    if comparator in ("between", "not_between") and len(expected or ()) != 2:
        return f"comparator {comparator} needs two values"
    return lambda record: _compare(comparator, record.get(api_name), expected)


def _combine(
    operator: str, parts: list[Callable[[dict[str, Any]], bool] | str]
) -> Callable[[dict[str, Any]], bool] | str:
    problems = [p for p in parts if isinstance(p, str)]
    if problems:
        return problems[0]
    checks = [p for p in parts if not isinstance(p, str)]
    if operator == "and":
        return lambda record: all(check(record) for check in checks)
    return lambda record: any(check(record) for check in checks)
