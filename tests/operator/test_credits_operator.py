"""API credits in the operator: a spent budget fails fast, min_credits_remaining stops a run, the summary."""

from __future__ import annotations

import pytest

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID
from tests.operator.helpers import FAST_HOOK, OK_1, OK_2, crm_requests, mass_update_posts, run_task


def leads_op(**kwargs):
    kwargs.setdefault("data", {"City": "Oslo"})
    kwargs.setdefault("hook_params", FAST_HOOK)
    return LeadsMassUpdateOperator(task_id="update_leads", **kwargs)


def kinds(**calls: int) -> dict[str, int]:
    return {
        "read": 0,
        "mass_update": 0,
        "update_records": 0,
        "upsert": 0,
        "status": 0,
        "metadata": 0,
        "other": 0,
        **calls,
    }


@pytest.mark.parametrize("error_policy", [None, {"TOO_MANY_REQUESTS": "ignore"}])
def test_a_spent_budget_fails_at_once_without_retries(zoho_crm_conn, emulator, error_policy):
    emulator.configure(credit_budget=10)
    emulator.set_credits_used(10)
    op = leads_op(
        ids=[OK_1, OK_2], batch_size=1, max_concurrency=1, error_policy=error_policy, preflight=False
    )
    out = run_task(op)
    assert out.state == "failed"  # AirflowFailException: no Airflow retry
    assert "credits are spent" in str(out.error)
    assert "rolling 24 hours" in str(out.error)
    assert len(crm_requests(emulator)) == 1  # no in-call retry, no re-send round, no second chunk
    assert [(r["id"], r["code"], r["outcome"]) for r in out.records] == [
        (OK_1, "NOT_SENT", "failed"),
        (OK_2, "NOT_SENT", "failed"),
    ]
    assert "credits are spent" in out.records[0]["message"]
    assert (out.summary["calls"], out.summary["credits_remaining"]) == (kinds(mass_update=1), 0)
    assert emulator.counters()["records_changed"] == 0


def test_a_spent_budget_fails_a_job_at_once(zoho_crm_conn, emulator):
    emulator.configure(credit_budget=10)
    emulator.set_credits_used(10)
    out = run_task(leads_op(cvid=LEADS_VIEW_ID, deferrable=False, poll_interval=0.1, preflight=False))
    assert out.state == "failed"
    assert "rolling 24 hours" in str(out.error)
    assert len(crm_requests(emulator)) == 1
    assert emulator.jobs() == []
    assert (out.summary["calls"], out.summary["credits_remaining"]) == (kinds(mass_update=1), 0)


def test_a_spent_budget_stops_the_preflight_and_nothing_is_written(zoho_crm_conn, emulator):
    emulator.configure(credit_budget=10)
    emulator.set_credits_used(10)
    out = run_task(leads_op(ids=[OK_1, OK_2]))
    assert out.state == "failed"  # no Airflow retry: credits come back over 24 hours
    assert "the preflight could not read the field metadata, nothing was written" in str(out.error)
    assert "rolling 24 hours" in str(out.error)
    assert [e["path"] for e in crm_requests(emulator)] == ["/crm/v8/settings/fields"]
    assert {(r["code"], r["outcome"]) for r in out.records} == {("NOT_SENT", "failed")}
    assert (out.summary["calls"], out.summary["credits_remaining"]) == (kinds(metadata=1), 0)


def test_the_floor_stops_before_the_first_write(zoho_crm_conn, emulator):
    emulator.configure(credit_budget=100)
    emulator.set_credits_used(70)
    out = run_task(leads_op(ids=[OK_1, OK_2], min_credits_remaining=50))
    assert out.state == "failed"
    assert mass_update_posts(emulator) == []
    assert [e["path"] for e in crm_requests(emulator)] == ["/crm/v8/org"]  # one cheap call learnt them
    assert "29 Zoho CRM API credit(s) remain, fewer than min_credits_remaining=50" in str(out.error)
    assert {(r["code"], r["outcome"]) for r in out.records} == {("NOT_SENT", "failed")}
    assert "min_credits_remaining=50" in out.records[0]["message"]
    assert out.summary["credits_remaining"] == emulator.credits()["remaining"] == 29
    assert out.summary["calls"] == kinds(other=1)


def test_the_floor_stops_a_job_before_it_is_scheduled(zoho_crm_conn, emulator):
    emulator.configure(credit_budget=100)
    emulator.set_credits_used(95)
    out = run_task(leads_op(cvid=LEADS_VIEW_ID, min_credits_remaining=10, deferrable=False))
    assert out.state == "failed"
    assert "no job was scheduled: 4 Zoho CRM API credit(s) remain" in str(out.error)
    assert mass_update_posts(emulator) == []
    assert emulator.jobs() == []


def test_no_header_means_more_than_half_remain(zoho_crm_conn, emulator):
    emulator.configure(credit_budget=100)
    out = run_task(leads_op(ids=[OK_1, OK_2], min_credits_remaining=90))
    assert out.state == "success"
    # the floor's cheap call, the preflight's metadata read, the write: each counted by kind
    paths = [e["path"].rsplit("/", 1)[-1] for e in crm_requests(emulator)]
    assert paths == ["org", "fields", "mass_update"]
    summary = (out.summary["calls"], out.summary["credits_remaining"])
    assert summary == (kinds(other=1, metadata=1, mass_update=1), None)
    assert emulator.credits()["used"] == 3


def test_the_floor_stops_mid_run_when_other_integrations_spend_credits(zoho_crm_conn, emulator):
    emulator.configure(credit_budget=100)
    emulator.set_credits_used(54)
    extra = emulator.seed(count=2)
    ids = [OK_1, OK_2, *extra]
    op = leads_op(ids=ids, batch_size=1, max_concurrency=1, min_credits_remaining=40)
    write = op.hook.mass_update
    sent: list[list[str]] = []

    def send_then_others_spend(module, data, ids, over_write=False):
        entries = write(module, data, ids=ids, over_write=over_write)
        sent.append(list(ids))
        if len(sent) == 1:
            emulator.spend_credits(10)  # another integration, while this run goes on
        return entries

    op.hook.mass_update = send_then_others_spend
    out = run_task(op)
    # GET org: 45 left; preflight: 44; chunk 1: 43 (then 10 spent elsewhere); chunk 2: 32: stop
    assert out.state == "failed"
    assert sent == [[OK_1], [OK_2]]
    assert len(mass_update_posts(emulator)) == 2
    assert out.summary["reason"].startswith(
        "stopped before sending more: 32 Zoho CRM API credit(s) remain, fewer than min_credits_remaining=40"
    )
    assert [(r["code"], r["outcome"]) for r in out.records] == [
        ("SUCCESS", "updated"),
        ("SUCCESS", "updated"),
        ("NOT_SENT", "failed"),
        ("NOT_SENT", "failed"),
    ]
    assert out.summary["credits_remaining"] == emulator.credits()["remaining"] == 32
    assert out.summary["calls"] == kinds(other=1, metadata=1, mass_update=2)
    assert sum(out.summary["calls"].values()) == len(crm_requests(emulator))


@pytest.mark.parametrize("floor", [-1, "5", True, 2.5])
def test_a_bad_floor_is_refused_as_input(zoho_crm_conn, emulator, floor):
    out = run_task(leads_op(ids=[OK_1], min_credits_remaining=floor))
    assert out.state == "failed"
    assert "min_credits_remaining must be an integer >= 0" in str(out.error)
    assert crm_requests(emulator) == []
    assert out.records[0]["code"] == "NOT_SENT"
    assert (out.summary["calls"], out.summary["credits_remaining"]) == (kinds(), None)
