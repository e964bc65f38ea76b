"""ZohoCRMUpdateRecordsOperator against the emulator over loopback: the plan, records, safety, inputs."""

from __future__ import annotations

import json
import sqlite3

import pytest

from airflow_crm_provider.operators.update_records import (
    LeadsUpdateRecordsOperator,
    ZohoCRMUpdateRecordsOperator,
)
from tests.operator.fakes import FakeTaskStateStore, make_context
from tests.operator.helpers import FAST_HOOK, ONE_ATTEMPT, crm_requests, run_task

pytestmark = pytest.mark.usefixtures("zoho_crm_conn")


def writes(emulator) -> list[dict]:
    return [e for e in crm_requests(emulator) if e["method"] in ("PUT", "POST") and e["status"] != 401]


def update(rows, **kwargs):
    kwargs.setdefault("hook_params", FAST_HOOK)
    return LeadsUpdateRecordsOperator(task_id="update", rows=rows, **kwargs)


def test_mixed_rows_go_as_the_planned_mass_updates_and_update_records_calls(emulator):
    ids = emulator.seed(count=650, fields={"Lead_Status": "Not Contacted", "City": "Paris"})
    rows = [{"id": i, "Lead_Status": "Contacted"} for i in ids[:600]]  # one shared value
    rows += [{"id": i, "City": f"City {n}"} for n, i in enumerate(ids[600:])]  # a value each

    out = run_task(update(rows))

    assert out.state == "success", out.error
    # 3 calls either way (1 mass update + 2 Update Records, or 2 + 1): the tie goes to fewer credits
    assert out.summary["plan"] == {
        "mass_update_calls": 2,
        "update_calls": 1,
        "estimated_credits": 2 + 5,
        "optimize": "calls",
    }
    assert out.pushed["plan"] == out.summary["plan"]  # pushed before the first write as well
    sent = writes(emulator)
    assert sorted((e["method"], e["path"].rsplit("/", 1)[-1]) for e in sent) == [
        ("POST", "mass_update"),
        ("POST", "mass_update"),
        ("PUT", "Leads"),
    ]
    assert [r["id"] for r in out.records] == ids  # one record per row, in input order
    assert {r["outcome"] for r in out.records} == {"updated"}
    held = emulator.records()
    assert all(held[i]["Lead_Status"] == "Contacted" for i in ids[:600])
    assert [held[i]["City"] for i in ids[600:]] == [f"City {n}" for n in range(50)]
    assert out.summary["calls"]["mass_update"] == 2
    assert out.summary["calls"]["update_records"] == 1


def test_optimize_credits_and_a_trigger_change_the_plan(emulator):
    ids = emulator.seed(count=30, fields={"Lead_Status": "Not Contacted"})
    rows = [{"id": i, "Lead_Status": "Contacted"} for i in ids]

    by_calls = run_task(update(rows, dry_run=True))
    with_trigger = run_task(update(rows, trigger=[], dry_run=True))

    assert by_calls.summary["plan"]["mass_update_calls"] == 1
    assert with_trigger.summary["plan"] == {  # a mass update cannot take trigger: Update Records only
        "mass_update_calls": 0,
        "update_calls": 1,
        "estimated_credits": 3,
        "optimize": "calls",
    }
    assert by_calls.summary["would_update"] == 30
    assert writes(emulator) == []  # a dry run writes nothing


def test_per_record_codes_are_reported_in_input_order(emulator):
    good = emulator.seed(count=2, fields={"City": "Paris"})
    rows = [
        {"id": good[0], "City": "Oslo"},
        {"id": "999999999999999999", "City": "Rome"},  # no such record
        {"id": good[1], "City": "Lima"},
    ]

    out = run_task(update(rows, trigger=[], max_failed_records=5))

    assert [r["id"] for r in out.records] == [good[0], "999999999999999999", good[1]]
    assert [r["outcome"] for r in out.records] == ["updated", "failed", "updated"]
    assert out.records[1]["code"] == "INVALID_DATA"
    assert out.state == "success"


def test_bad_rows_are_refused_before_any_call(emulator):
    rows = [{"id": "123", "City": "Oslo"}, {"City": "no id"}, {"id": 1.5, "City": "float"}]

    out = run_task(update(rows))

    assert out.state == "failed"
    assert "rows[1] has no 'id'" in out.summary["reason"]
    assert "rows[2]['id']" in out.summary["reason"]
    assert [r["code"] for r in out.records] == ["NOT_SENT"] * 3
    assert crm_requests(emulator) == []


def test_skip_unchanged_and_snapshot_read_first_and_send_only_what_differs(emulator):
    ids = emulator.seed(count=4, fields={"City": "Paris"})
    rows = [{"id": i, "City": city} for i, city in zip(ids, ["Paris", "Oslo", "Paris", "Lima"], strict=True)]

    out = run_task(update(rows, trigger=[], skip_unchanged=True, snapshot=True))

    assert [r["outcome"] for r in out.records] == ["unchanged", "updated", "unchanged", "updated"]
    (put,) = writes(emulator)
    assert [r["id"] for r in put["body"]["data"]] == [ids[1], ids[3]]
    assert out.pushed["snapshot"] == {ids[1]: {"City": "Paris"}, ids[3]: {"City": "Paris"}}
    assert out.pushed["written"] == {ids[1]: {"City": "Oslo"}, ids[3]: {"City": "Lima"}}


def test_a_retry_sends_no_call_an_earlier_try_got_the_reply_of(emulator):
    ids = emulator.seed(count=250, fields={"City": "Paris"})
    rows = [{"id": i, "City": f"C{n}"} for n, i in enumerate(ids)]
    store = FakeTaskStateStore()

    first = run_task(update(rows, max_concurrency=1, hook_params=ONE_ATTEMPT), make_context(store))
    assert first.state == "success"
    before = len(writes(emulator))
    second = run_task(update(rows, max_concurrency=1, hook_params=ONE_ATTEMPT), make_context(store))

    assert second.state == "success"
    assert len(writes(emulator)) == before  # every call's reply was kept: nothing is sent again
    assert all("earlier try" in r["message"] for r in second.records)


def test_a_changed_value_is_a_different_call_for_the_ledger(emulator):
    ids = emulator.seed(count=3, fields={"City": "Paris"})
    store = FakeTaskStateStore()
    run_task(update([{"id": i, "City": "A"} for i in ids], trigger=[]), make_context(store))
    run_task(update([{"id": i, "City": "B"} for i in ids], trigger=[]), make_context(store))

    assert len(writes(emulator)) == 2  # same ids, other values: not the same call
    assert {emulator.records()[i]["City"] for i in ids} == {"B"}


def test_sql_rows_are_read_through_common_sql(emulator, tmp_path, monkeypatch):
    ids = emulator.seed(count=3, fields={"City": "Paris"})
    db = tmp_path / "rows.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE scores (id TEXT, City TEXT)")
        conn.executemany("INSERT INTO scores VALUES (?, ?)", [(i, f"S{n}") for n, i in enumerate(ids)])
    monkeypatch.setenv("AIRFLOW_CONN_ROWS_DB", json.dumps({"conn_type": "sqlite", "host": str(db)}))

    op = ZohoCRMUpdateRecordsOperator(
        task_id="update",
        module="Leads",
        sql="SELECT id, City FROM scores ORDER BY id",
        conn_id="rows_db",
        trigger=[],
        hook_params=FAST_HOOK,
    )
    out = run_task(op)

    assert out.state == "success", out.error
    assert {emulator.records()[i]["City"] for i in ids} == {"S0", "S1", "S2"}
