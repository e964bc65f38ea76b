"""
What a retry (or a cleared task) sends and claims after lost or garbled replies, reverts and moves.

Each test runs the public operator against the emulator over loopback, with one task-state store
shared by the tries of the same task instance.
"""

from __future__ import annotations

import pytest

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from airflow_crm_provider.operators.revert import ZohoCRMRevertMassUpdateOperator
from airflow_crm_provider.operators.update_records import LeadsUpdateRecordsOperator
from airflow_crm_provider.zoho.errors import ZohoConnectionError
from tests.operator.fakes import FakeTaskStateStore, make_context
from tests.operator.helpers import crm_requests, mass_update_posts, run_task
from tests.reliability.helpers import sent_ids

pytestmark = pytest.mark.usefixtures("zoho_crm_conn")


@pytest.fixture
def emulator(zoho_emulator):
    """The emulator's admin client, reset for this test."""
    return zoho_emulator.client


#: One attempt per call: a lost or garbled reply ends the call (and stops the run).
ONE_ATTEMPT = {"max_attempts": 1, "backoff_base": 0.01, "max_retry_wait": 2.0, "max_token_wait": 0.0}
TARGET = {"Lead_Status": "Junk Lead"}


def update(ids, action="mass_update", **kwargs):
    kwargs.setdefault("hook_params", ONE_ATTEMPT)
    kwargs.setdefault("batch_size", 10)
    kwargs.setdefault("max_concurrency", 1)
    kwargs.setdefault("locked_retry_delay", 0.01)
    kwargs.setdefault("preflight", False)  # the faults and credit counts aim at the writes
    if action == "update_records":  # a value per record, as Update Records calls (no trigger: no mass update)
        rows = [{"id": i, **TARGET} for i in ids]
        return LeadsUpdateRecordsOperator(task_id="update", rows=rows, trigger=[], **kwargs)
    kwargs.setdefault("data", TARGET)
    return LeadsMassUpdateOperator(task_id="update", ids=ids, **kwargs)


def writes(emulator) -> list[dict]:
    return [e for e in crm_requests(emulator) if sent_ids(e)]


def posted_ids(emulator, since: int = 0) -> list[list[str]]:
    return [sent_ids(e) for e in writes(emulator)[since:]]


def holding(emulator, ids, value="Junk Lead") -> set[str]:
    records = emulator.records()
    return {i for i in ids if records[i].get("Lead_Status") == value}


WRITE_PATHS = pytest.mark.parametrize("action", ["mass_update", "update_records"])


@WRITE_PATHS
def test_a_retry_keeps_what_reading_back_confirmed_record_by_record(emulator, action):
    ids = emulator.seed(count=20, fields={"Lead_Status": "Contacted"})
    blocked = ids[3]
    emulator.seed(not_approved=[blocked])
    store = FakeTaskStateStore()
    emulator.configure(lose_replies=1)  # chunk 1 is applied, its reply lost

    first = run_task(update(ids, action), make_context(store))

    assert first.state == "up_for_retry"
    by_id = first.by_id()
    assert by_id[ids[0]]["details"].get("confirmed_by") == "read_back"
    assert by_id[blocked]["code"] == "NOT_SENT"
    posts = len(writes(emulator))

    second = run_task(update(ids, action), make_context(store))

    assert second.state == "skipped" or second.state == "success", second.error
    sent_again = [i for chunk in posted_ids(emulator, posts) for i in chunk]
    assert not set(sent_again) & (set(ids[:10]) - {blocked})  # the 9 read back as applied stay
    assert blocked in sent_again
    assert holding(emulator, ids) == set(ids) - {blocked}


@WRITE_PATHS
def test_a_garbled_200_is_read_back_not_reported_as_a_rejection(emulator, action):
    ids = emulator.seed(count=5, fields={"Lead_Status": "Contacted"})
    store = FakeTaskStateStore()
    emulator.configure(garble_replies=1)

    first = run_task(update(ids, action), make_context(store))

    assert emulator.counters()["garbled_replies"] == 1
    assert holding(emulator, ids) == set(ids)
    assert first.state == "up_for_retry"  # not a rejection: Airflow retries apply
    assert {(r["code"], r["outcome"]) for r in first.records} == {("SUCCESS", "updated")}
    assert all(r["details"].get("confirmed_by") == "read_back" for r in first.records)

    second = run_task(update(ids, action), make_context(store))
    assert second.state == "success"
    assert len(writes(emulator)) == 1  # the retry sent nothing again


def test_a_retry_sends_the_leftovers_of_many_chunks_together(emulator):
    ids = emulator.seed(count=30, fields={"Lead_Status": "Contacted"})
    blocked = [ids[2], ids[15], ids[27]]  # one NOT_APPROVED record in each chunk of 10
    emulator.seed(not_approved=blocked)
    store = FakeTaskStateStore()
    first = run_task(update(ids), make_context(store))
    assert first.state == "success"
    posts = len(mass_update_posts(emulator))

    again = run_task(update(ids), make_context(store))  # the task cleared: a new try
    assert posted_ids(emulator, posts) == [blocked]  # one call, not one per original chunk
    assert again.state == "success"

    posts = len(mass_update_posts(emulator))
    third = run_task(update(ids), make_context(store))
    assert posted_ids(emulator, posts) == [blocked]  # the leftovers' chunk is found as it was sent
    assert third.by_id()[ids[0]]["message"].endswith("(in an earlier try)")


def test_clearing_an_update_after_its_revert_applies_it_again(emulator):
    ids = emulator.seed(count=25, fields={"Lead_Status": "Contacted"})
    store = FakeTaskStateStore()
    forward = run_task(update(ids, snapshot=True), make_context(store))
    assert forward.state == "success"
    back = run_task(
        ZohoCRMRevertMassUpdateOperator(task_id="revert", source_task_id="update", hook_params=ONE_ATTEMPT),
        make_context(upstream={"update": forward.pushed}),
    )
    assert back.state == "success"
    assert holding(emulator, ids) == set()
    posts = len(mass_update_posts(emulator))

    cleared = run_task(update(ids, snapshot=True), make_context(store))

    assert cleared.state == "success"
    assert holding(emulator, ids) == set(ids)  # applied again, not claimed from the first run
    assert sorted(i for chunk in posted_ids(emulator, posts) for i in chunk) == sorted(ids)
    assert not any("earlier try" in r["message"] for r in cleared.records)
    assert cleared.pushed["snapshot"] == forward.pushed["snapshot"]  # still the values before the run


def test_skip_unchanged_rereads_on_a_retry_what_it_has_not_written(emulator, monkeypatch):
    changed = emulator.seed(count=10, fields={"Lead_Status": "Contacted"})
    same = emulator.seed(count=10, fields=TARGET)
    ids = changed + same
    store = FakeTaskStateStore()
    op = update(ids, skip_unchanged=True, snapshot=True)

    def crash(*args, **kwargs):
        raise ZohoConnectionError("worker lost", maybe_delivered=False)

    with monkeypatch.context() as patch:
        patch.setattr(type(op.hook), "mass_update", crash)
        first = run_task(op, make_context(store))
    assert first.state == "up_for_retry"
    moved = same[:4]
    emulator.seed(ids=moved, fields={"Lead_Status": "Attempted to Contact"})  # someone moves them

    second = run_task(update(ids, skip_unchanged=True, snapshot=True), make_context(store))

    assert second.state == "success"
    assert holding(emulator, ids) == set(ids)
    by_id = second.by_id()
    assert {by_id[i]["outcome"] for i in moved} == {"updated"}
    assert {by_id[i]["outcome"] for i in same[4:]} == {"unchanged"}
    # the snapshot keeps the values from before the run: the first try's reading
    assert second.pushed["snapshot"] == {**first.pushed["snapshot"], **{i: TARGET for i in moved}}


@pytest.mark.parametrize("concurrency", [1, 4])
def test_the_credit_floor_guards_the_reads_and_stops_at_the_floor(emulator, concurrency):
    ids = emulator.seed(count=2_000, fields={"Lead_Status": "Contacted"})
    emulator.configure(credit_budget=200)
    emulator.set_credits_used(150)  # 50 left, and Zoho says so (half is used)

    op = update(
        ids, skip_unchanged=True, batch_size=500, max_concurrency=concurrency, min_credits_remaining=40
    )
    out = run_task(op)

    assert out.state == "failed"
    assert mass_update_posts(emulator) == []
    left = emulator.credits()["remaining"]
    if concurrency == 1:  # the floor is what must remain: not one below, not one above
        assert left == 40
        assert len(crm_requests(emulator)) == 10  # GET org, then 9 of the 20 reads
    else:  # replies of calls side by side come in any order: the guard may stop a little early
        assert 40 <= left < 40 + concurrency
    assert "min_credits_remaining=40" in out.summary["reason"]
    assert {r["code"] for r in out.records} == {"NOT_SENT"}


def test_the_credit_floor_allows_a_write_that_leaves_exactly_the_floor(emulator):
    ids = emulator.seed(count=3, fields={"Lead_Status": "Contacted"})
    emulator.configure(credit_budget=200)
    emulator.set_credits_used(158)  # 42 left: GET org leaves 41, one write leaves 40, then stop

    out = run_task(update(ids, batch_size=1, min_credits_remaining=40))

    assert out.state == "failed"
    assert [r["outcome"] for r in out.records] == ["updated", "failed", "failed"]
    assert emulator.credits()["remaining"] == 40
