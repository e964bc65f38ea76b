"""Issue 9's adversarial findings, each against the emulator over loopback: what broke now holds."""

from __future__ import annotations

import pytest

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from tests.operator.fakes import FakeTaskStateStore, make_context
from tests.operator.helpers import mass_update_posts, run_task

ONE_ATTEMPT = {"max_attempts": 1, "backoff_base": 0.01, "max_retry_wait": 2.0, "max_token_wait": 0.0}


def leads_op(**kwargs):
    kwargs.setdefault("data", {"City": "Trondheim"})
    kwargs.setdefault("locked_retry_delay", 0)
    kwargs.setdefault("hook_params", ONE_ATTEMPT)
    return LeadsMassUpdateOperator(task_id="update_leads", **kwargs)


def posts_per_id(client) -> dict[str, int]:
    """How often each id reached Zoho's mass update (refused tokens do not count: nothing was applied)."""
    counts: dict[str, int] = {}
    for post in (p for p in mass_update_posts(client) if p["status"] != 401):
        for record_id in post["body"]["ids"]:
            counts[record_id] = counts.get(record_id, 0) + 1
    return counts


def test_a_lost_reply_is_confirmed_by_reading_back_and_never_sent_again(zoho_crm_conn, emulator):
    """Item 3: Zoho applied the chunk but the reply was lost; the XCom must not say "not applied"."""
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
    """Item 3: when reading back cannot settle it, the record says UNCONFIRMED, not NOT_SENT."""
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


def test_a_retry_after_the_task_finished_sends_nothing_that_was_updated(zoho_crm_conn, emulator):
    """Item 1: a worker killed after the outcome was recorded, before success: the retry re-sends nothing."""
    ids = emulator.seed("Leads", count=1200)
    store = FakeTaskStateStore()
    first = run_task(leads_op(ids=ids), make_context(store))
    assert first.state == "success"
    assert store.rows  # the replies stay: what a later try finds decides what it sends

    again = run_task(leads_op(ids=ids), make_context(store))  # the retry of a try that died at the end
    assert again.state == "success"
    assert again.summary["updated"] == len(ids)
    assert posts_per_id(emulator) == dict.fromkeys(ids, 1)


def test_records_that_were_not_updated_are_sent_again_on_a_later_try(zoho_crm_conn, emulator):
    """A clear after fixing records in Zoho re-sends only what Zoho did not update."""
    ids = emulator.seed("Leads", count=4)
    emulator.seed("Leads", not_approved=ids[1:2])
    store = FakeTaskStateStore()
    first = run_task(leads_op(ids=ids, batch_size=2), make_context(store))
    assert first.summary["skipped"] == 1

    emulator.reset()  # someone approved the record meanwhile (and the request log starts anew)
    emulator.seed("Leads", ids=ids)
    updated = [ids[0], *ids[2:]]
    emulator.seed("Leads", ids=updated, fields={"City": "Trondheim"})  # what the first try set stays
    again = run_task(leads_op(ids=ids, batch_size=2), make_context(store))
    assert again.summary["updated"] == 4
    assert posts_per_id(emulator) == {ids[1]: 1}  # only the record Zoho had not updated
    assert "earlier try" in again.by_id()[ids[0]]["message"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_in_data_are_refused_before_any_call(zoho_crm_conn, emulator, bad):
    """Item 4."""
    out = run_task(leads_op(ids=["738964000002131001"], data={"Annual_Revenue": bad}))
    assert out.state == "failed"
    assert "finite" in str(out.error)
    assert mass_update_posts(emulator) == []


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"ids": "[" * 100_000}, "neither JSON nor a Python literal"),  # item 5: RecursionError before
        ({"data": "{" + '"a": {' * 100_000}, "neither JSON nor a Python literal"),
        ({"ids": [10**5000]}, "numeric Zoho record ids"),  # item 5: ValueError from int -> str before
        ({"ids": b"\xff\xfe738964000002131001"}, "not UTF-8"),  # item 5: UnicodeDecodeError before
        ({"data": {"Lead_Status\n": "Contacted"}}, "field API names"),  # item 7: `$` took the newline
        ({"data": {"City": {"a": {"b": 1}}}}, "nested deeper"),
        ({"data": {"City": "\ud800"}}, "not valid Unicode"),
        ({"data": {"City": "x" * 40_000}}, "at most 32000"),
        ({"data": {"No_of_Employees": 10**40}}, "more than 32 digits"),
    ],
)
def test_inputs_that_escaped_the_clean_refusal_are_refused_as_input(zoho_crm_conn, emulator, kwargs, reason):
    kwargs = {"ids": ["738964000002131001"], **kwargs}
    out = run_task(leads_op(**kwargs))
    assert out.state == "failed"
    assert "invalid input, nothing was sent to Zoho" in str(out.error)
    assert reason in str(out.error)
    assert out.records is not None  # every requested id still gets a record
    assert mass_update_posts(emulator) == []


def test_ids_separated_by_spaces_semicolons_commas_and_newlines_are_taken(zoho_crm_conn, emulator):
    ids = emulator.seed("Leads", count=4)
    out = run_task(leads_op(ids=f"{ids[0]}, {ids[1]};{ids[2]}\n{ids[3]}\n"))
    assert out.state == "success"
    assert [r["id"] for r in out.records] == ids
