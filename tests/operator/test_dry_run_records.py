"""What a dry run reports for one record: would_update, unchanged or not_found, field by field."""

from __future__ import annotations

import pytest

from airflow_crm_provider.runs.dry_run import dry_run_record


@pytest.mark.parametrize(
    ("current", "new", "over_write", "outcome"),
    [
        ("Hot", "Hot", False, "unchanged"),
        ("Cold", "Hot", False, "would_update"),
        (None, "Hot", False, "would_update"),
        (1000, 1000, False, "unchanged"),
        (1000, "1000", False, "unchanged"),
        (1000, 1001, False, "would_update"),
        (True, "True", False, "would_update"),
        (True, 1, False, "would_update"),  # a boolean field holds booleans only
        (0, False, False, "would_update"),
        (1000.0, "1000", False, "unchanged"),  # currency reads back as a float; templates give text
        (1000.0, 1000, False, "unchanged"),
        (1000.5, "1000.50", False, "unchanged"),
        (1000.5, "1000.4", False, "would_update"),
        (1000, "n/a", False, "would_update"),
        ("007", 7, False, "would_update"),  # a text field compares as text
        ("7", 7, False, "unchanged"),
        (["a", "b"], ["a"], False, "unchanged"),  # multi-select append: already there
        (["a", "b"], ["a"], True, "would_update"),  # replace: b would go
        (["b", "a"], ["a", "b"], True, "unchanged"),
        (["a"], ["a", "c"], False, "would_update"),
        (None, ["a"], False, "would_update"),
    ],
)
def test_outcome_of_one_field(current, new, over_write, outcome):
    record = dry_run_record("1", {"id": "1", "F": current}, {"F": new}, over_write)
    assert record["outcome"] == outcome
    assert record["id"] == "1"
    assert record["status"] == "dry_run"
    assert record["details"]["current"] == {"F": current}


def test_would_update_names_the_changed_fields():
    record = dry_run_record("7", {"A": 1, "B": 2}, {"A": 1, "B": 3}, False)
    assert record["code"] == "WOULD_UPDATE"
    assert record["details"]["changed"] == ["B"]
    assert "B" in record["message"]


def test_missing_record_is_not_found():
    record = dry_run_record("9", None, {"A": 1}, False)
    assert record == {
        "id": "9",
        "status": "dry_run",
        "code": "NOT_FOUND",
        "message": "no such record, or not visible to this connection's user",
        "details": {},
        "outcome": "not_found",
    }
