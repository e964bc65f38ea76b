"""Error policy overrides, thresholds and soft_fail, through the operator against the emulator."""

from __future__ import annotations

import pytest

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator, ZohoCRMMassUpdateOperator
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

UNKNOWN_ID = "738964999999999999"  # not in the store: Zoho answers INVALID_DATA for that row


def leads_op(**kwargs):
    kwargs.setdefault("data", {"Lead_Status": "Contacted"})
    kwargs.setdefault("locked_retry_delay", 0)
    kwargs.setdefault("locked_retries", 0)
    kwargs.setdefault("hook_params", FAST_HOOK)
    return LeadsMassUpdateOperator(task_id="update_leads", **kwargs)


def test_row_level_invalid_id_fails_by_default(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[OK_1, UNKNOWN_ID]))

    assert out.state == "failed"
    assert "1 record(s) failed, more than max_failed_records=0" in str(out.error)
    bad = out.by_id()[UNKNOWN_ID]
    assert (bad["code"], bad["message"], bad["outcome"]) == (
        "INVALID_DATA",
        "the id given seems to be invalid",
        "failed",
    )
    assert emulator.record("Leads", OK_1)["Lead_Status"] == "Contacted"  # the rest was still applied


def test_max_failed_records_tolerates_failures(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[OK_1, UNKNOWN_ID], max_failed_records=1))
    assert out.state == "success"
    assert (out.summary["updated"], out.summary["failed"]) == (1, 1)


@pytest.mark.parametrize(
    ("policy", "state", "outcome"),
    [
        ({"NOT_APPROVED": "fail"}, "failed", "failed"),
        ({"not_approved": "IGNORE"}, "success", "ignored"),
        ({"NOT_APPROVED": "soft"}, "success", "skipped"),
    ],
)
def test_policy_overrides_per_code(zoho_crm_conn, emulator, policy, state, outcome):
    out = run_task(leads_op(ids=[OK_1, NOT_APPROVED], error_policy=policy))
    assert out.state == state
    assert out.by_id()[NOT_APPROVED]["outcome"] == outcome


def test_policy_retry_class_resends(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[NOT_APPROVED], error_policy={"NOT_APPROVED": "retry"}, locked_retries=2))
    assert len(mass_update_posts(emulator)) == 3
    assert out.state == "skipped"


def test_policy_can_soften_a_request_level_code(zoho_crm_conn, emulator):
    out = run_task(
        # Zoho's own refusal of the field (the preflight would refuse it first)
        leads_op(
            ids=[OK_1, OK_2],
            data={"Email": "x@example.com"},
            error_policy={"INVALID_DATA": "soft"},
            preflight=False,
        )
    )
    assert out.state == "skipped"
    assert [r["outcome"] for r in out.records] == ["skipped", "skipped"]
    assert out.records[0]["details"] == {"api_name": "Email"}


def test_request_level_retry_class_still_failing_is_a_retryable_task_failure(zoho_crm_conn, emulator):
    op = leads_op(
        ids=[OK_1, OK_2],
        data={"Email": "x@example.com"},  # Zoho rejects the whole request: INVALID_DATA, api_name Email
        error_policy={"INVALID_DATA": "retry"},
        locked_retries=1,
        preflight=False,
    )
    out = run_task(op)

    assert len(crm_requests(emulator)) == 2  # sent, re-sent once, then left to Airflow's retries
    assert out.state == "up_for_retry"
    assert "INVALID_DATA" in str(out.error)
    assert out.summary["outcome"] == "failed"
    assert [(r["code"], r["outcome"]) for r in out.records] == [("NOT_SENT", "failed")] * 2


def test_locked_records_can_be_escalated_to_fail(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[OK_1, LOCKED], error_policy={"RECORD_LOCKED": "fail"}))
    assert out.state == "failed"
    assert len(mass_update_posts(emulator)) == 1  # fail class: not re-sent


def test_max_skipped_ratio(zoho_crm_conn, emulator):
    ids = [OK_1, OK_2, NOT_APPROVED]
    assert run_task(leads_op(ids=ids, max_skipped_ratio=0.34)).state == "success"
    out = run_task(leads_op(ids=ids, max_skipped_ratio=0.3))
    assert out.state == "skipped"
    assert "1 of 3 record(s) skipped (33%), more than max_skipped_ratio=0.3" in str(out.error)
    assert out.summary["outcome"] == "skipped"
    assert out.summary["updated"] == 2  # the updates happened; the task says too many were skipped


@pytest.mark.parametrize("ids", [[NOT_APPROVED], [OK_1, NOT_APPROVED]])
def test_soft_fail_false_turns_a_skip_into_a_failure(zoho_crm_conn, emulator, ids):
    out = run_task(leads_op(ids=ids, soft_fail=False, max_skipped_ratio=0.4))
    assert out.state == "failed"
    assert "soft_fail=False" in str(out.error)
    assert out.summary["outcome"] == "failed"


def test_unknown_codes_fail_closed(zoho_crm_conn, emulator, rewrite_replies):
    def brand_new_code(reply):
        reply["data"][1].update(code="SOMETHING_NEW", status="error", message="new in v9")
        return reply

    rewrite_replies(brand_new_code)
    out = run_task(leads_op(ids=[OK_1, OK_2]))
    assert out.state == "failed"
    assert out.by_id()[OK_2]["code"] == "SOMETHING_NEW"
    assert out.by_id()[OK_2]["outcome"] == "failed"
    assert out.summary["by_code"] == {"SUCCESS": 1, "SOMETHING_NEW": 1}
    assert out.summary["reason"] == "1 record(s) failed, more than max_failed_records=0"


def test_zoho_reply_missing_an_id_fails_closed(zoho_crm_conn, emulator, rewrite_replies):
    rewrite_replies(lambda reply: {"data": reply["data"][:1]})
    out = run_task(leads_op(ids=[OK_1, OK_2]))
    assert out.state == "failed"
    assert out.by_id()[OK_2]["code"] == "NO_RESULT"


def test_bad_error_policy_is_invalid_input(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[OK_1], error_policy={"NOT_APPROVED": "explode"}))
    assert out.state == "failed"
    assert "error_policy has unknown classes" in str(out.error)
    assert crm_requests(emulator) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 501}, "batch_size must be an integer between 1 and 500"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_concurrency": 11}, "max_concurrency must be an integer between 1 and 10"),
        ({"max_failed_records": -1}, "max_failed_records"),
        ({"max_skipped_ratio": 1.5}, "max_skipped_ratio must be a number between 0 and 1"),
        ({"locked_retries": -1}, "locked_retries"),
        ({"locked_retry_delay": -1}, "locked_retry_delay"),
        ({"locked_retry_delay": float("nan")}, "locked_retry_delay"),  # sleep(nan) would crash mid-run
        ({"locked_retry_delay": float("inf")}, "locked_retry_delay"),
    ],
)
def test_bad_settings_are_invalid_input(zoho_crm_conn, emulator, kwargs, match):
    out = run_task(leads_op(ids=[OK_1], **kwargs))
    assert out.state == "failed"
    assert match in str(out.error)
    assert crm_requests(emulator) == []


def test_generic_operator_other_module(zoho_crm_conn, emulator):
    (contact,) = emulator.seed("Contacts", count=1)
    op = ZohoCRMMassUpdateOperator(
        task_id="contacts",
        module="Contacts",
        data={"Department": "Sales"},
        ids=[contact],
        hook_params=FAST_HOOK,
    )
    out = run_task(op)
    assert out.state == "success"
    assert out.summary["module"] == "Contacts"
    assert emulator.record("Contacts", contact)["Department"] == "Sales"


def test_bad_module_is_invalid_input(zoho_crm_conn, emulator):
    op = ZohoCRMMassUpdateOperator(task_id="x", module="Le ads", data={"City": "x"}, ids=[OK_1])
    out = run_task(op)
    assert out.state == "failed"
    assert "module must be a Zoho module API name" in str(out.error)
    assert crm_requests(emulator) == []


def test_unknown_module_answered_by_zoho(zoho_crm_conn, emulator):
    op = ZohoCRMMassUpdateOperator(
        task_id="x", module="Leadz", data={"City": "x"}, ids=[OK_1], hook_params=FAST_HOOK, preflight=False
    )
    out = run_task(op)
    assert out.state == "failed"
    assert "INVALID_MODULE" in str(out.error)
