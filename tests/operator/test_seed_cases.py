"""The seed's eight recorded Zoho responses, driven through the operator against the emulator."""

from __future__ import annotations

import json

import pytest

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from tests.operator.helpers import (
    FAST_HOOK,
    LOCKED,
    NOT_APPROVED,
    OK_1,
    OK_2,
    crm_requests,
    mass_update_posts,
    run_task,
)


def leads_op(**kwargs):
    kwargs.setdefault("data", {"No_of_Employees": 1000})
    kwargs.setdefault("locked_retry_delay", 0)
    kwargs.setdefault("hook_params", FAST_HOOK)
    return LeadsMassUpdateOperator(task_id="update_leads", **kwargs)


def test_success_response(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[OK_1, OK_2], over_write=True))

    assert out.state == "success"
    assert out.summary == {
        "module": "Leads",
        "mode": "ids",
        "requested": 2,
        "updated": 2,
        "skipped": 0,
        "failed": 0,
        "ignored": 0,
        "unchanged": 0,
        "by_code": {"SUCCESS": 2},
        "outcome": "success",
        "job_id": None,
        "reason": "2 record(s) updated",
        "snapshot": None,
        "calls": {
            "read": 0,
            "mass_update": 1,
            "update_records": 0,
            "upsert": 0,
            "status": 0,
            "metadata": 1,
            "other": 0,
        },
        "credits_remaining": None,  # no credit budget: Zoho's header comes once half is used
    }
    assert [r["id"] for r in out.records] == [OK_1, OK_2]
    for record in out.records:
        assert record["code"] == "SUCCESS"
        assert record["status"] == "success"
        assert record["message"] == "record updated"
        assert record["outcome"] == "updated"
        assert record["details"]["id"] == record["id"]
        assert record["details"]["Modified_By"]["name"] == "Patricia Boyle"
    (post,) = mass_update_posts(emulator)
    assert post["path"] == "/crm/v8/Leads/actions/mass_update"
    assert post["body"] == {"data": [{"No_of_Employees": 1000}], "ids": [OK_1, OK_2], "over_write": True}
    assert emulator.record("Leads", OK_1)["No_of_Employees"] == 1000
    assert emulator.record("Leads", OK_2)["No_of_Employees"] == 1000


def test_invalid_data_no_field_is_caught_before_sending(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[OK_1, OK_2], data={}))

    assert out.state == "failed"
    assert "data is empty" in str(out.error)
    assert "nothing was sent to Zoho" in str(out.error)
    assert crm_requests(emulator) == []
    assert out.summary["outcome"] == "failed"
    assert [r["code"] for r in out.records] == ["NOT_SENT", "NOT_SENT"]


def test_invalid_data_no_field_answered_by_zoho(zoho_crm_conn, emulator, rewrite_requests):
    rewrite_requests(body=lambda body: {**body, "data": [{}]})
    out = run_task(leads_op(ids=[OK_1, OK_2]))

    assert out.state == "failed"  # AirflowFailException: no Airflow retries
    assert "INVALID_DATA: No field found" in str(out.error)
    assert len(mass_update_posts(emulator)) == 1  # request-level errors are not retried
    assert [(r["code"], r["outcome"]) for r in out.records] == [("INVALID_DATA", "failed")] * 2
    assert emulator.counters()["records_changed"] == 0


def test_invalid_data_unknown_field(zoho_crm_conn, emulator):
    # Zoho's answer when the preflight is off (with it, test_preflight.py: refused before any write)
    out = run_task(leads_op(ids=[OK_1, OK_2], data={"No_of_Employees1": 1000}, preflight=False))

    assert out.state == "failed"
    text = str(out.error)
    assert "INVALID_DATA" in text
    assert "This field cannot be updated in the Mass Update" in text
    assert "No_of_Employees1" in text  # Zoho's details name the field's api_name
    assert len(mass_update_posts(emulator)) == 1
    assert out.summary["failed"] == 2
    assert out.summary["reason"].startswith("Zoho rejected the request: INVALID_DATA")
    assert out.records[0]["details"] == {"api_name": "No_of_Employees1"}


def test_mandatory_not_found_is_caught_before_sending(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[]))

    assert out.state == "skipped"
    assert "no record ids" in str(out.error)
    assert crm_requests(emulator) == []
    assert out.summary["requested"] == 0
    assert out.summary["outcome"] == "skipped"
    assert out.records == []


def test_mandatory_not_found_answered_by_zoho(zoho_crm_conn, emulator, rewrite_requests):
    rewrite_requests(body=lambda body: {k: v for k, v in body.items() if k != "ids"})
    out = run_task(leads_op(ids=[OK_1]))

    assert out.state == "failed"
    assert "MANDATORY_NOT_FOUND: required field not found" in str(out.error)
    assert out.records[0]["code"] == "MANDATORY_NOT_FOUND"


def test_invalid_request_method(zoho_crm_conn, emulator, rewrite_requests):
    rewrite_requests(method="COPY")
    out = run_task(leads_op(ids=[OK_1, OK_2]))

    assert out.state == "failed"
    assert "INVALID_REQUEST_METHOD" in str(out.error)
    assert "[HTTP 400]" in str(out.error)
    assert out.summary["by_code"] == {"INVALID_REQUEST_METHOD": 2}


def test_authentication_failure(zoho_emulator, emulator, monkeypatch):
    conn = zoho_emulator.connection_json(access_token="not a token", refresh_token=None)
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", conn)
    out = run_task(leads_op(ids=[OK_1, OK_2]))

    assert out.state == "failed"
    assert "AUTHENTICATION_FAILURE: Authentication failed" in str(out.error)
    assert "[HTTP 401]" in str(out.error)
    assert emulator.counters()["records_changed"] == 0
    assert "not a token" not in json.dumps(out.pushed)


def test_not_approved_alone_is_skipped(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[NOT_APPROVED]))

    assert out.state == "skipped"
    assert "no record was updated (1 skipped, 0 ignored)" in str(out.error)
    (record,) = out.records
    assert record == {
        "id": NOT_APPROVED,
        "status": "error",
        "code": "NOT_APPROVED",
        "message": "cannot update record that is not approved yet",
        "details": {"id": NOT_APPROVED},
        "outcome": "skipped",
    }
    assert out.summary["outcome"] == "skipped"


def test_not_approved_among_successes_counts_as_skipped(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[OK_1, NOT_APPROVED, OK_2]))

    assert out.state == "success"
    assert (out.summary["updated"], out.summary["skipped"]) == (2, 1)
    assert [r["outcome"] for r in out.records] == ["updated", "skipped", "updated"]


@pytest.mark.parametrize("retries", [0, 2])
def test_record_locked_is_retried_then_skipped(zoho_crm_conn, emulator, retries):
    out = run_task(leads_op(ids=[LOCKED], locked_retries=retries))

    assert out.state == "skipped"
    posts = mass_update_posts(emulator)
    assert [p["body"]["ids"] for p in posts] == [[LOCKED]] * (retries + 1)
    (record,) = out.records
    assert record["code"] == "RECORD_LOCKED"  # classified by code, not by the copy-pasted message
    assert record["details"] == {"action": "zia_vision_processing", "id": LOCKED}
    assert record["outcome"] == "skipped"


def test_record_locked_clears_on_a_resend(zoho_crm_conn, emulator):
    emulator.seed("Leads", locked=["738964000009000001"], locked_for=1)
    out = run_task(leads_op(ids=[OK_1, "738964000009000001"]))

    assert out.state == "success"
    assert [p["body"]["ids"] for p in mass_update_posts(emulator)] == [
        [OK_1, "738964000009000001"],
        ["738964000009000001"],
    ]
    assert out.by_id()["738964000009000001"]["outcome"] == "updated"
    assert emulator.record("Leads", "738964000009000001")["No_of_Employees"] == 1000
