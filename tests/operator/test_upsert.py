"""ZohoCRMUpsertOperator against the emulator over loopback: insert or update, ids, safety, inputs."""

from __future__ import annotations

import pytest

from airflow_crm_provider.operators.upsert import LeadsUpsertOperator
from tests.operator.fakes import FakeTaskStateStore, make_context
from tests.operator.helpers import FAST_HOOK, ONE_ATTEMPT, crm_requests, run_task

pytestmark = pytest.mark.usefixtures("zoho_crm_conn")


def upserts(emulator) -> list[dict]:
    return [e for e in crm_requests(emulator) if e["path"].endswith("/upsert") and e["status"] != 401]


def upsert(rows, **kwargs):
    kwargs.setdefault("hook_params", FAST_HOOK)
    kwargs.setdefault("duplicate_check_fields", ["Email"])
    return LeadsUpsertOperator(task_id="upsert", rows=rows, trigger=[], **kwargs)


def test_each_row_says_insert_or_update_and_carries_zohos_id(emulator):
    (existing,) = emulator.seed(count=1, fields={"Email": "old@example.com", "City": "Paris"})
    rows = [
        {"Last_Name": "New", "Email": "new@example.com", "City": "Oslo"},
        {"Last_Name": "Old", "Email": "old@example.com", "City": "Lima"},
    ]

    out = run_task(upsert(rows))

    assert out.state == "success", out.error
    first, second = out.records
    assert (first["row"], first["action"], first["outcome"]) == (0, "insert", "updated")
    assert (second["row"], second["action"], second["id"]) == (1, "update", existing)
    held = emulator.records()
    assert held[first["id"]]["Email"] == "new@example.com"
    assert held[existing]["City"] == "Lima"
    assert out.summary["actions"] == {"insert": 1, "update": 1}


def test_rows_go_100_a_call_in_input_order(emulator):
    rows = [{"Last_Name": f"L{n}", "Email": f"l{n}@example.com"} for n in range(230)]

    out = run_task(upsert(rows, max_concurrency=1))

    assert [len(e["body"]["data"]) for e in upserts(emulator)] == [100, 100, 30]
    assert [r["row"] for r in out.records] == list(range(230))
    assert out.summary["actions"] == {"insert": 230}


def test_a_row_without_id_or_duplicate_check_value_is_refused_before_any_call(emulator):
    out = run_task(upsert([{"Last_Name": "A", "Email": "a@example.com"}, {"Last_Name": "No key"}]))

    assert out.state == "failed"
    assert "rows[1] has no id and no value of ['Email']" in out.summary["reason"]
    assert crm_requests(emulator) == []


def test_two_rows_with_one_duplicate_check_value_are_refused(emulator):
    rows = [{"Last_Name": "A", "Email": "a@example.com"}, {"Last_Name": "B", "Email": "A@example.com "}]

    out = run_task(upsert(rows))

    assert out.state == "failed"
    assert "rows[0] and rows[1] have the same Email" in out.summary["reason"]


def test_a_lost_reply_is_unconfirmed_and_the_retry_updates_instead_of_inserting_twice(emulator):
    rows = [{"Last_Name": f"L{n}", "Email": f"lost{n}@example.com"} for n in range(3)]
    store = FakeTaskStateStore()
    emulator.configure(lose_replies=1)  # aimed at the write: no preflight read to lose it

    first = run_task(upsert(rows, hook_params=ONE_ATTEMPT, preflight=False), make_context(store))

    assert first.state == "up_for_retry"
    assert {r["code"] for r in first.records} == {"UNCONFIRMED"}  # Zoho acted; we cannot say it did
    second = run_task(upsert(rows, hook_params=ONE_ATTEMPT), make_context(store))

    assert second.state == "success"
    assert [r["action"] for r in second.records] == ["update"] * 3  # the first send inserted them
    emails = [r.get("Email") for r in emulator.records().values()]
    assert all(emails.count(f"lost{n}@example.com") == 1 for n in range(3))


def test_a_retry_does_not_send_a_call_whose_reply_was_kept(emulator):
    rows = [{"Last_Name": f"L{n}", "Email": f"kept{n}@example.com"} for n in range(150)]
    store = FakeTaskStateStore()
    first = run_task(upsert(rows), make_context(store))
    sent = len(upserts(emulator))

    second = run_task(upsert(rows), make_context(store))

    assert first.state == second.state == "success"
    assert len(upserts(emulator)) == sent
    assert [r["id"] for r in second.records] == [r["id"] for r in first.records]
    assert [r["action"] for r in second.records] == ["insert"] * 150  # as the first try's replies said
