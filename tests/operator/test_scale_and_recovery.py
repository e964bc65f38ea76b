"""Chunking, concurrency, 10,000 ids, transient failures, crash recovery and secrets, against the emulator."""

from __future__ import annotations

import json

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from airflow_crm_provider.testing.emulator import defaults
from tests.operator.fakes import FakeTaskStateStore, make_context
from tests.operator.helpers import (
    FAST_HOOK,
    LOCKED,
    NOT_APPROVED,
    OK_1,
    OK_2,
    mass_update_posts,
    posts_per_id,
    run_task,
)


def leads_op(**kwargs):
    kwargs.setdefault("data", {"No_of_Employees": 250})
    kwargs.setdefault("locked_retry_delay", 0)
    kwargs.setdefault("hook_params", FAST_HOOK)
    return LeadsMassUpdateOperator(task_id="update_leads", **kwargs)


def test_chunks_and_bounded_concurrency(zoho_crm_conn, emulator):
    emulator.configure(latency=0.05)
    ids = emulator.seed("Leads", count=1200)
    out = run_task(leads_op(ids=ids, batch_size=100, max_concurrency=3))

    assert out.state == "success"
    posts = mass_update_posts(emulator)
    assert len(posts) == 12
    assert all(len(p["body"]["ids"]) == 100 for p in posts)
    assert sorted(i for p in posts for i in p["body"]["ids"]) == sorted(ids)
    assert 1 < emulator.counters()["max_in_flight"] <= 3
    assert emulator.counters()["tokens_minted"] == 1  # the threads share one hook and one token
    assert [r["id"] for r in out.records] == ids  # input order, whatever order chunks finished in


def test_ten_thousand_ids_with_mixed_outcomes(zoho_crm_conn, emulator):
    generated = emulator.seed("Leads", count=9_800)
    not_approved = [f"7389640000091{i:05d}" for i in range(100)]
    locked_once = [f"7389640000092{i:05d}" for i in range(60)]
    locked_forever = [f"7389640000093{i:05d}" for i in range(20)]
    unknown = [f"7389640000094{i:05d}" for i in range(20)]  # never created: INVALID_DATA rows
    emulator.seed("Leads", not_approved=not_approved)
    emulator.seed("Leads", locked=locked_once, locked_for=1)
    emulator.seed("Leads", locked=locked_forever)
    ids = generated + not_approved + locked_once + locked_forever + unknown
    ids = ids[::2] + ids[1::2]  # interleave the kinds across chunks
    assert len(ids) == 10_000
    before = emulator.records("Leads")

    out = run_task(leads_op(ids=ids, max_concurrency=4, locked_retries=2, max_failed_records=20))

    assert out.state == "success"
    assert out.summary["requested"] == 10_000
    assert out.summary["by_code"] == {
        "SUCCESS": 9_860,
        "NOT_APPROVED": 100,
        "RECORD_LOCKED": 20,
        "INVALID_DATA": 20,
    }
    assert (out.summary["updated"], out.summary["skipped"], out.summary["failed"]) == (9_860, 120, 20)
    assert [r["id"] for r in out.records] == ids
    after = emulator.records("Leads")
    expected = {
        **dict.fromkeys(generated + locked_once, ("SUCCESS", "updated")),
        **dict.fromkeys(not_approved, ("NOT_APPROVED", "skipped")),
        **dict.fromkeys(locked_forever, ("RECORD_LOCKED", "skipped")),
        **dict.fromkeys(unknown, ("INVALID_DATA", "failed")),
    }
    for record in out.records:
        record_id = record["id"]
        assert (record["code"], record["outcome"]) == expected[record_id], record_id
        if record["outcome"] == "updated":
            assert after[record_id]["No_of_Employees"] == 250, record_id
            assert record["details"]["id"] == record_id
        elif record_id in after:
            assert after[record_id] == before[record_id], record_id
        else:
            assert record_id not in before
    assert emulator.counters()["records_changed"] == 9_860
    posts = mass_update_posts(emulator)
    assert len(posts) == 20 + 1 + 1  # 20 chunks, then two re-sends of the locked ids
    assert [len(p["body"]["ids"]) for p in posts[-2:]] == [80, 20]


def test_transient_failure_is_retryable_and_pushes_xcom(zoho_crm_conn, emulator):
    emulator.configure(burst_5xx=2)  # the hook tries twice (FAST_HOOK), then gives up
    out = run_task(leads_op(ids=[OK_1, OK_2], max_concurrency=1))

    assert out.state == "up_for_retry"
    assert type(out.error).__name__ == "ZohoServerError"
    assert out.summary["outcome"] == "failed"
    assert "INTERNAL_ERROR" in out.summary["reason"]
    assert [r["code"] for r in out.records] == ["NOT_SENT", "NOT_SENT"]  # a 5xx: read back, not applied
    assert "reading the record back shows the old value(s)" in out.records[0]["message"]
    assert emulator.counters()["records_changed"] == 0


def test_request_level_failure_stops_sending_further_chunks(zoho_crm_conn, emulator):
    ids = emulator.seed("Leads", count=50)
    out = run_task(leads_op(ids=ids, data={"Email": "x@example.com"}, batch_size=10, max_concurrency=2))

    assert out.state == "failed"
    assert "INVALID_DATA" in str(out.error)
    assert "Email" in str(out.error)
    assert len(mass_update_posts(emulator)) <= 2  # at most the calls already in flight
    codes = {r["code"] for r in out.records}
    assert codes <= {"INVALID_DATA", "NOT_SENT"}
    assert "NOT_SENT" in codes
    assert len(out.records) == 50
    not_sent = next(r for r in out.records if r["code"] == "NOT_SENT")
    assert not_sent["outcome"] == "failed"
    assert "not sent" in not_sent["message"]


class Crash(SystemExit):
    """A worker dying mid-run: nothing of the operator's own handling runs after it."""


@pytest.fixture
def crash_after(monkeypatch):
    """Make the hook's mass_update die before call number ``n`` (only once)."""

    def install(n):
        real = ZohoCRMHook.mass_update
        calls = {"n": 0, "crashed": False}

        def mass_update(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == n and not calls["crashed"]:
                calls["crashed"] = True
                raise Crash(1)
            return real(self, *args, **kwargs)

        monkeypatch.setattr(ZohoCRMHook, "mass_update", mass_update)

    return install


def test_retry_after_crash_sends_only_what_is_left(zoho_crm_conn, emulator, crash_after):
    ids = [*emulator.seed("Leads", count=40), LOCKED, NOT_APPROVED]
    store = FakeTaskStateStore()
    crash_after(4)
    with pytest.raises(Crash):
        leads_op(ids=ids, batch_size=10, max_concurrency=1, locked_retries=1).execute(make_context(store))
    assert len(mass_update_posts(emulator)) == 3
    assert len(store.rows) == 3

    out = run_task(leads_op(ids=ids, batch_size=10, max_concurrency=1, locked_retries=1), make_context(store))

    assert out.state == "success"
    posts = mass_update_posts(emulator)
    first_pass = [i for p in posts for i in p["body"]["ids"] if i != LOCKED]
    assert sorted(first_pass) == sorted(i for i in ids if i != LOCKED)  # no chunk applied twice
    assert [p["body"]["ids"] for p in posts].count([LOCKED]) == 1  # its one re-send
    assert len(out.records) == 42
    assert [r["id"] for r in out.records] == ids
    assert sum(r["message"] == "record updated (in an earlier try)" for r in out.records) == 30
    assert out.summary["updated"] == 40
    assert emulator.counters()["records_changed"] == 40
    assert len(store.rows) == 6  # 5 chunks and the re-send stay: no later try re-sends an updated record


def test_retry_after_transient_failure_resumes(zoho_crm_conn, emulator, monkeypatch):
    ids = emulator.seed("Leads", count=30)
    store = FakeTaskStateStore()
    real = ZohoCRMHook.mass_update
    seen = []

    def flaky(self, module, data, ids, over_write=False):
        seen.append(list(ids))
        if len(seen) == 2:
            emulator.configure(burst_5xx=2)
        return real(self, module, data, ids, over_write)

    monkeypatch.setattr(ZohoCRMHook, "mass_update", flaky)
    first = run_task(leads_op(ids=ids, batch_size=10, max_concurrency=1), make_context(store))
    second = run_task(leads_op(ids=ids, batch_size=10, max_concurrency=1), make_context(store))

    assert first.state == "up_for_retry"
    assert (first.summary["updated"], first.summary["failed"]) == (10, 20)
    assert second.state == "success"
    assert second.summary["updated"] == 30
    assert seen[2:] == [ids[10:20], ids[20:30]]  # the retry skipped the applied chunk
    assert emulator.counters()["records_changed"] == 30


def test_no_secret_in_xcom_logs_or_errors(zoho_crm_conn, emulator, caplog, capsys):
    ok = run_task(leads_op(ids=[OK_1, NOT_APPROVED]))
    failed = run_task(leads_op(ids=[OK_1], data={"Nope": 1}))
    tokens = {
        e["headers"]["authorization"].split(" ", 1)[1]
        for e in emulator.log()
        if "authorization" in e["headers"]
    }
    assert tokens
    text = json.dumps([ok.pushed, failed.pushed]) + str(failed.error) + caplog.text + capsys.readouterr().out
    for secret in (defaults.CLIENT_SECRET, defaults.REFRESH_TOKEN, *tokens):
        assert secret not in text


def test_a_retry_after_the_task_finished_sends_nothing_that_was_updated(zoho_crm_conn, emulator):
    """A worker killed after the outcome was recorded, before success: the retry re-sends nothing."""
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
    emulator.seed("Leads", ids=updated, fields={"No_of_Employees": 250})  # what the first try set stays
    again = run_task(leads_op(ids=ids, batch_size=2), make_context(store))
    assert again.summary["updated"] == 4
    assert posts_per_id(emulator) == {ids[1]: 1}  # only the record Zoho had not updated
    assert "earlier try" in again.by_id()[ids[0]]["message"]
