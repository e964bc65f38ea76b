from __future__ import annotations

import logging

import pytest

from airflow_crm_provider.runs.outcomes import (
    NOT_SENT,
    Decision,
    RunResult,
    Thresholds,
    build_records,
    decide,
    error_entry,
    format_report,
    record_outcome,
    summarize,
)
from airflow_crm_provider.version_compat import AirflowFailException, AirflowSkipException
from airflow_crm_provider.zoho.errors import (
    ErrorClass,
    ZohoCreditFloorError,
    ZohoRequestError,
    ZohoServerError,
)
from tests.operator.fakes import conclude


def entry(record_id, code="SUCCESS", message="record updated", details=None):
    status = "success" if code == "SUCCESS" else "error"
    return {"id": record_id, "status": status, "code": code, "message": message, "details": details or {}}


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("SUCCESS", "updated"),
        ("success", "updated"),
        ("INVALID_DATA", "failed"),
        ("NOT_APPROVED", "skipped"),
        ("RECORD_LOCKED", "skipped"),  # retry class, once retries are used up
        ("SOMETHING_NEW", "failed"),  # unknown codes fail closed
        (None, "failed"),
    ],
)
def test_record_outcome_defaults(code, outcome):
    assert record_outcome(code) == outcome


def test_record_outcome_overrides():
    assert record_outcome("NOT_APPROVED", {"NOT_APPROVED": ErrorClass.FAIL}) == "failed"
    assert record_outcome("INVALID_DATA", {"INVALID_DATA": ErrorClass.IGNORE}) == "ignored"
    assert record_outcome("SUCCESS", {"SUCCESS": ErrorClass.FAIL}) == "updated"


def test_build_records_input_order_and_not_sent():
    entries = {"2": entry("2", "NOT_APPROVED", "not approved", {"id": "2"}), "1": entry("1")}
    records = build_records(["1", "2", "3"], entries)
    assert [r["id"] for r in records] == ["1", "2", "3"]
    assert [r["outcome"] for r in records] == ["updated", "skipped", "failed"]
    assert records[1] == {
        "id": "2",
        "status": "error",
        "code": "NOT_APPROVED",
        "message": "not approved",
        "details": {"id": "2"},
        "outcome": "skipped",
    }
    assert records[2]["code"] == NOT_SENT
    assert "not sent" in records[2]["message"]


def test_summarize_counts():
    records = build_records(
        ["1", "2", "3", "4"],
        {
            "1": entry("1"),
            "2": entry("2", "NOT_APPROVED"),
            "3": entry("3", "INVALID_DATA"),
            "4": entry("4", "X"),
        },
        {"X": ErrorClass.IGNORE},
    )
    summary = summarize("Leads", "ids", records)
    assert summary == {
        "module": "Leads",
        "mode": "ids",
        "requested": 4,
        "updated": 1,
        "skipped": 1,
        "failed": 1,
        "ignored": 1,
        "unchanged": 0,
        "by_code": {"SUCCESS": 1, "NOT_APPROVED": 1, "INVALID_DATA": 1, "X": 1},
        "outcome": "success",
        "job_id": None,
        "reason": "",
        "snapshot": None,
        "calls": {
            "read": 0,
            "mass_update": 0,
            "update_records": 0,
            "upsert": 0,
            "status": 0,
            "metadata": 0,
            "other": 0,
        },  # the operator fills them in
        "credits_remaining": None,
    }
    job = summarize("Leads", "job", [], requested=10, job_id="42")
    assert (job["requested"], job["job_id"], job["mode"]) == (10, "42", "job")


def counts(updated=0, skipped=0, failed=0, ignored=0, unchanged=0):
    return {
        "module": "Leads",
        "mode": "ids",
        "requested": updated + skipped + failed + ignored + unchanged,
        "updated": updated,
        "skipped": skipped,
        "failed": failed,
        "ignored": ignored,
        "unchanged": unchanged,
        "by_code": {},
        "outcome": "success",
        "job_id": None,
        "reason": "",
        "snapshot": None,
    }


@pytest.mark.parametrize(
    ("summary", "policy", "outcome", "reason"),
    [
        (counts(updated=3), Thresholds(), "success", "3 record(s) updated"),
        (
            counts(updated=2, failed=1),
            Thresholds(),
            "failed",
            "1 record(s) failed, more than max_failed_records=0",
        ),
        (counts(updated=2, failed=1), Thresholds(max_failed_records=1), "success", "2 record(s) updated"),
        (counts(skipped=1), Thresholds(), "skipped", "no record was updated (1 skipped, 0 ignored)"),
        (counts(ignored=2), Thresholds(), "skipped", "no record was updated (0 skipped, 2 ignored)"),
        (counts(updated=2, skipped=1), Thresholds(), "success", "2 record(s) updated"),
        (
            counts(updated=2, skipped=1),
            Thresholds(max_skipped_ratio=0.34),
            "success",
            "2 record(s) updated",
        ),
        (
            counts(updated=2, skipped=1),
            Thresholds(max_skipped_ratio=0.3),
            "skipped",
            "1 of 3 record(s) skipped (33%), more than max_skipped_ratio=0.3",
        ),
        # ignored records do not count towards the skipped share
        (
            counts(updated=1, skipped=1, ignored=8),
            Thresholds(max_skipped_ratio=0.5),
            "success",
            "1 record(s) updated",
        ),
        (
            counts(skipped=1),
            Thresholds(soft_fail=False),
            "failed",
            "no record was updated (1 skipped, 0 ignored), and soft_fail=False",
        ),
        # unchanged records (skip_unchanged) count as neither updated nor skipped
        (
            counts(unchanged=4),
            Thresholds(),
            "success",
            "nothing to change: 4 record(s) already held the value(s)",
        ),
        (
            counts(updated=1, skipped=1, unchanged=8),
            Thresholds(max_skipped_ratio=0.4),
            "skipped",
            "1 of 2 record(s) skipped (50%), more than max_skipped_ratio=0.4",
        ),
        (counts(updated=2, unchanged=3), Thresholds(), "success", "2 record(s) updated, 3 unchanged"),
        (
            counts(skipped=1, unchanged=3),
            Thresholds(),
            "skipped",
            "no record was updated (1 skipped, 0 ignored)",
        ),
        (
            counts(unchanged=1, failed=1),
            Thresholds(),
            "failed",
            "1 record(s) failed, more than max_failed_records=0",
        ),
        # failure wins over skip
        (
            counts(skipped=5, failed=1),
            Thresholds(),
            "failed",
            "1 record(s) failed, more than max_failed_records=0",
        ),
    ],
)
def test_decide(summary, policy, outcome, reason):
    assert decide(summary, policy) == Decision(outcome, reason)


def test_decide_request_error_fails_even_with_updates():
    error = ZohoRequestError("x", code="INVALID_DATA")
    decision = decide(counts(updated=500), Thresholds(max_failed_records=10**6), request_error=error)
    assert decision == Decision("failed", "Zoho rejected the request: INVALID_DATA: x")


def test_decide_names_a_credit_floor_stop_as_ours():
    error = ZohoCreditFloorError("12 Zoho CRM API credit(s) remain, fewer than min_credits_remaining=50")
    decision = decide(counts(updated=500), Thresholds(), request_error=error)
    assert decision == Decision(
        "failed",
        "stopped before sending more: 12 Zoho CRM API credit(s) remain, fewer than min_credits_remaining=50",
    )


def test_format_report_lists_counts_and_first_failures():
    entries = {
        str(i): entry(str(i), "INVALID_DATA", "the id given seems to be invalid", {"id": str(i)})
        for i in range(8)
    }
    entries["9"] = entry("9")
    ids = [*entries]
    records = build_records(ids, entries)
    text = format_report(summarize("Leads", "ids", records), records, what="mass update")
    assert "9 requested, 1 updated, 0 skipped, 8 failed, 0 ignored" in text
    assert "INVALID_DATA  8" in text
    assert "SUCCESS       1" in text
    assert "first 5 of 8 failed record(s)" in text
    assert "4: INVALID_DATA: the id given seems to be invalid {'id': '4'}" in text
    assert "5: INVALID_DATA" not in text


class FakeTI:
    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


@pytest.fixture
def context():
    return {"ti": FakeTI()}


def test_conclude_success_pushes_records_and_returns_summary(context, caplog):
    records = build_records(["1"], {"1": entry("1")})
    summary = summarize("Leads", "ids", records)
    with caplog.at_level(logging.INFO):
        out = conclude(context, RunResult(summary, records, Decision("success", "1 record(s) updated")))
    assert out["outcome"] == "success"
    assert out["reason"] == "1 record(s) updated"
    assert context["ti"].pushed == {"records": records}  # return_value is pushed by Airflow from the return
    assert "1 requested, 1 updated" in caplog.text


@pytest.mark.parametrize(
    ("outcome", "exc"), [("skipped", AirflowSkipException), ("failed", AirflowFailException)]
)
def test_conclude_pushes_both_xcoms_before_raising(context, outcome, exc):
    records = build_records(["1"], {"1": entry("1", "NOT_APPROVED")})
    summary = summarize("Leads", "ids", records)
    with pytest.raises(exc, match=f"Zoho CRM mass update of Leads {outcome}: because"):
        conclude(context, RunResult(summary, records, Decision(outcome, "because")))
    assert context["ti"].pushed["records"] == records
    assert context["ti"].pushed["return_value"]["outcome"] == outcome
    assert context["ti"].pushed["return_value"]["reason"] == "because"


def test_conclude_reraises_retryable_after_pushing(context):
    err = ZohoServerError("still failing", code="INTERNAL_ERROR", http_status=500)
    records = build_records(["1", "2"], {"1": entry("1"), "2": error_entry("2", NOT_SENT, "not applied")})
    summary = summarize("Leads", "ids", records)
    with pytest.raises(ZohoServerError) as raised:
        conclude(context, RunResult(summary, records, Decision("failed", "x"), retryable=err))
    assert raised.value is err
    assert context["ti"].pushed["return_value"]["outcome"] == "failed"
    assert "INTERNAL_ERROR" in context["ti"].pushed["return_value"]["reason"]


def test_conclude_without_push(context):
    with pytest.raises(AirflowSkipException):
        conclude(
            context, RunResult(summarize("Leads", "ids", []), [], Decision("skipped", "empty")), push=False
        )
    assert context["ti"].pushed == {}
