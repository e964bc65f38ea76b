"""Calls whose reply was lost: read back as applied or not, else UNCONFIRMED; applied ones are not re-sent."""

from __future__ import annotations

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from tests.operator.fakes import FakeTaskStateStore, make_context
from tests.operator.helpers import ONE_ATTEMPT, posts_per_id, run_task


def leads_op(**kwargs):
    kwargs.setdefault("data", {"City": "Trondheim"})
    kwargs.setdefault("locked_retry_delay", 0)
    kwargs.setdefault("hook_params", ONE_ATTEMPT)
    kwargs.setdefault("preflight", False)  # the faults aim at the write
    return LeadsMassUpdateOperator(task_id="update_leads", **kwargs)


def test_a_lost_reply_is_confirmed_by_reading_back_and_never_sent_again(zoho_crm_conn, emulator):
    """Zoho applied the chunk but the reply was lost; the XCom must not say "not applied"."""
    ids = emulator.seed("Leads", count=6, fields={"City": "Oslo"})
    emulator.configure(lose_replies=1)
    store = FakeTaskStateStore()
    first = run_task(leads_op(ids=ids, batch_size=2, max_concurrency=1), make_context(store))

    assert first.state == "up_for_retry"  # the run stopped on a transient failure
    lost = ids[:2]
    assert all(emulator.record("Leads", i)["City"] == "Trondheim" for i in lost)  # Zoho applied it
    for record in first.records[:2]:
        assert (record["code"], record["outcome"]) == ("SUCCESS", "updated")
        assert "reading the record back" in record["message"]
    assert {r["code"] for r in first.records[2:]} == {"NOT_SENT"}  # truly never sent

    retry = run_task(leads_op(ids=ids, batch_size=2, max_concurrency=1), make_context(store))
    assert retry.state == "success"
    assert posts_per_id(emulator) == {**dict.fromkeys(ids, 1)}  # the confirmed chunk is not sent again


def test_a_call_that_may_have_reached_zoho_is_never_reported_as_not_applied(zoho_crm_conn, emulator):
    """When reading back cannot settle it, the record says UNCONFIRMED, not NOT_SENT."""
    ids = emulator.seed("Leads", count=2, fields={"City": "Oslo"})
    emulator.configure(lose_replies=1)
    op = leads_op(ids=ids)
    real = op.hook.get_records

    def reads_fail(*args, **kwargs):
        raise RuntimeError("reading back is down too")

    op.hook.get_records = reads_fail
    out = run_task(op)
    op.hook.get_records = real
    assert out.state == "up_for_retry"
    assert {r["code"] for r in out.records} == {"UNCONFIRMED"}
    assert all("may have applied" in r["message"] for r in out.records)


def test_a_dropped_request_read_back_as_unchanged_is_not_applied(zoho_crm_conn, emulator):
    ids = emulator.seed("Leads", count=2, fields={"City": "Oslo"})
    emulator.configure(drop_connections=1)  # closed before Zoho touched anything
    out = run_task(leads_op(ids=ids))
    assert out.state == "up_for_retry"
    assert {(r["code"], r["outcome"]) for r in out.records} == {("NOT_SENT", "failed")}
    assert all("shows the old value" in r["message"] for r in out.records)
    assert all(emulator.record("Leads", i)["City"] == "Oslo" for i in ids)
