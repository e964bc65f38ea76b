"""skip_unchanged, snapshot and the revert operator, against the emulator over loopback."""

from __future__ import annotations

import json

import pytest

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from airflow_crm_provider.operators.revert import (
    LeadsRevertMassUpdateOperator,
    ZohoCRMRevertMassUpdateOperator,
)
from airflow_crm_provider.operators.update_records import ZohoCRMUpdateRecordsOperator
from airflow_crm_provider.zoho.errors import ZohoConnectionError
from tests.operator.fakes import FakeTaskStateStore, make_context
from tests.operator.helpers import FAST_HOOK, crm_requests, mass_update_posts, run_task


def update_puts(emulator) -> list[dict]:
    return [e for e in crm_requests(emulator) if e["method"] == "PUT" and e["status"] != 401]


pytestmark = pytest.mark.usefixtures("zoho_crm_conn")

STATUSES = ("Not Contacted", "Attempted to Contact", "Contacted")


def record_reads(emulator) -> int:
    """Return how many record reads (not the preflight's metadata reads) the emulator answered."""
    return len([e for e in crm_requests(emulator) if e["method"] == "GET" and "/settings/" not in e["path"]])


def seed_statuses(emulator, n: int) -> list[str]:
    """Seed ``n`` Leads whose Lead_Status cycles through three values; return their ids."""
    ids: list[str] = []
    for k, status in enumerate(STATUSES):
        ids += emulator.seed(count=n // 3 + (k < n % 3), fields={"Lead_Status": status})
    return ids


def statuses(emulator, ids: list[str], field: str = "Lead_Status") -> dict[str, object]:
    records = emulator.records()
    return {i: records[i].get(field) for i in ids}


def forward(ids, **kwargs):
    kwargs.setdefault("data", {"Lead_Status": "Junk Lead"})
    kwargs.setdefault("hook_params", FAST_HOOK)
    return LeadsMassUpdateOperator(task_id="update", ids=ids, snapshot=True, **kwargs)


def revert(**kwargs):
    kwargs.setdefault("hook_params", FAST_HOOK)
    return ZohoCRMRevertMassUpdateOperator(task_id="revert", source_task_id="update", **kwargs)


def revert_context(out, store=None):
    return make_context(store, upstream={"update": out.pushed})


def test_skip_unchanged_sends_only_what_differs_and_a_second_run_sends_nothing(emulator):
    ids = seed_statuses(emulator, 1200)
    contacted = [i for i, s in statuses(emulator, ids).items() if s == "Contacted"]

    out = run_task(
        LeadsMassUpdateOperator(task_id="t", ids=ids, data={"Lead_Status": "Contacted"}, skip_unchanged=True)
    )

    assert out.state == "success"
    sent = [i for post in mass_update_posts(emulator) for i in post["body"]["ids"]]
    assert sorted(sent) == sorted(set(ids) - set(contacted))
    assert len(mass_update_posts(emulator)) == 2  # 800 ids in chunks of 500
    by_id = out.by_id()
    assert {by_id[i]["outcome"] for i in contacted} == {"unchanged"}
    assert {by_id[i]["code"] for i in contacted} == {"UNCHANGED"}
    assert (out.summary["updated"], out.summary["unchanged"], out.summary["skipped"]) == (800, 400, 0)
    assert out.summary["reason"] == "800 record(s) updated, 400 unchanged"
    assert set(statuses(emulator, ids).values()) == {"Contacted"}

    posts_before = len(mass_update_posts(emulator))
    again = run_task(
        LeadsMassUpdateOperator(task_id="t", ids=ids, data={"Lead_Status": "Contacted"}, skip_unchanged=True)
    )

    assert again.state == "success"
    assert len(mass_update_posts(emulator)) == posts_before  # no mass update at all
    assert (again.summary["unchanged"], again.summary["updated"]) == (1200, 0)
    assert again.summary["reason"] == "nothing to change: 1200 record(s) already held the value(s)"


def test_skip_unchanged_sends_records_it_could_not_find(emulator):
    ids = emulator.seed(count=2, fields={"Lead_Status": "Contacted"})
    missing = "999999000000000001"

    out = run_task(
        LeadsMassUpdateOperator(
            task_id="t", ids=[*ids, missing], data={"Lead_Status": "Contacted"}, skip_unchanged=True
        )
    )

    sent = [i for post in mass_update_posts(emulator) for i in post["body"]["ids"]]
    assert sent == [missing]  # Zoho, not the provider, says what an unknown id is
    assert out.by_id()[missing]["outcome"] == "failed"
    assert [out.by_id()[i]["outcome"] for i in ids] == ["unchanged", "unchanged"]


def test_snapshot_and_revert_restore_every_record_exactly(emulator):
    ids = seed_statuses(emulator, 1100)
    before = statuses(emulator, ids)

    out = run_task(forward(ids, max_concurrency=4))

    assert out.state == "success"
    assert out.pushed["snapshot"] == {i: {"Lead_Status": before[i]} for i in ids}
    assert out.summary["snapshot"] == {
        "records": 1100,
        "data": {"Lead_Status": "Junk Lead"},
        "over_write": False,
    }
    assert set(statuses(emulator, ids).values()) == {"Junk Lead"}
    posts = len(mass_update_posts(emulator))

    back = run_task(revert(), revert_context(out))

    assert back.state == "success", back.error
    assert statuses(emulator, ids) == before
    assert (back.summary["mode"], back.summary["updated"]) == ("revert", 1100)
    assert [r["id"] for r in back.records] == ids
    # one group per prior value, each ceil(n/500) calls: 367 -> 1, 367 -> 1, 366 -> 1
    reverts = mass_update_posts(emulator)[posts:]
    assert len(reverts) == 3
    assert all(post["body"]["over_write"] is True for post in reverts)
    assert sorted(post["body"]["data"][0]["Lead_Status"] for post in reverts) == sorted(STATUSES)


def test_revert_leaves_records_changed_since_unless_forced(emulator):
    ids = seed_statuses(emulator, 6)
    before = statuses(emulator, ids)
    out = run_task(forward(ids[:5]))
    assert out.state == "success"
    changed, untouched = ids[0], ids[5]
    emulator.seed(ids=[changed], fields={"Lead_Status": "Pre-Qualified"})  # someone else, after the run

    back = run_task(revert(), revert_context(out))

    assert back.state == "success"
    by_id = back.by_id()
    assert (by_id[changed]["code"], by_id[changed]["outcome"]) == ("CHANGED_SINCE", "skipped")
    assert "Lead_Status changed since the run" in by_id[changed]["message"]
    assert untouched not in by_id  # not in the snapshot: the run did not write it
    now = statuses(emulator, ids)
    assert now[changed] == "Pre-Qualified"
    assert {i: now[i] for i in ids[1:]} == {i: before[i] for i in ids[1:]}
    assert (back.summary["updated"], back.summary["skipped"]) == (4, 1)

    again = run_task(revert(force=True, error_policy={"CHANGED_SINCE": "fail"}), revert_context(out))

    assert again.state == "success"
    assert statuses(emulator, ids) == before
    assert again.by_id()[changed]["outcome"] == "updated"
    assert {again.by_id()[i]["code"] for i in ids[1:5]} == {"UNCHANGED"}


def test_changed_since_follows_the_error_policy(emulator):
    ids = emulator.seed(count=2, fields={"Lead_Status": "Contacted"})
    out = run_task(forward(ids))
    emulator.seed(ids=[ids[0]], fields={"Lead_Status": "Pre-Qualified"})

    back = run_task(revert(error_policy={"CHANGED_SINCE": "fail"}), revert_context(out))

    assert back.state == "failed"
    assert back.by_id()[ids[0]]["outcome"] == "failed"
    assert statuses(emulator, ids)[ids[1]] == "Contacted"  # the rest is still restored


@pytest.mark.parametrize(
    ("before", "data"),
    [
        ({"Product_Interest": ["CRM"]}, {"Product_Interest": ["Books"]}),  # appended (over_write=False)
        ({"Product_Interest": None}, {"Product_Interest": ["Books"]}),
        ({"City": None}, {"City": "Oslo"}),  # an empty field is emptied again
        ({"City": "Bergen"}, {"City": None}),
    ],
)
def test_revert_restores_multiselect_lists_and_empty_fields(emulator, before, data):
    emulator.define_fields("Leads", {"Product_Interest": "multiselectpicklist"})
    ids = emulator.seed(count=2, fields=before)
    (field,) = data

    out = run_task(forward(ids, data=data, over_write=False))
    assert out.state == "success", out.error
    assert out.pushed["snapshot"] == {i: before for i in ids}
    if before == {"Product_Interest": ["CRM"]}:
        assert sorted(emulator.records()[ids[0]]["Product_Interest"]) == ["Books", "CRM"]

    back = run_task(revert(), revert_context(out))

    assert back.state == "success", (back.error, back.records)
    assert statuses(emulator, ids, field) == dict.fromkeys(ids, before[field])


def test_a_retry_keeps_the_first_snapshot_after_a_crash_between_chunks(emulator, monkeypatch):
    ids = seed_statuses(emulator, 1000)
    before = statuses(emulator, ids)
    store = FakeTaskStateStore()
    op = forward(ids, max_concurrency=1)
    real = type(op.hook).mass_update
    calls = []

    def crash_on_second_chunk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ZohoConnectionError("worker lost", maybe_delivered=False)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(op.hook), "mass_update", crash_on_second_chunk)
    first = run_task(op, make_context(store))
    assert first.state == "up_for_retry"
    assert first.pushed["snapshot"] == {i: {"Lead_Status": before[i]} for i in ids}
    reads = record_reads(emulator)

    # the retry: the first 500 now hold "Junk Lead", yet the snapshot is still the values before
    second = run_task(forward(ids, max_concurrency=1), make_context(store))

    assert second.state == "success"
    assert second.pushed["snapshot"] == first.pushed["snapshot"]
    # no second reading of the values before; the 500 the first try wrote are read back before claimed
    assert record_reads(emulator) == reads + 5
    assert len(mass_update_posts(emulator)) == 2  # chunk 1 once, chunk 2 on the retry

    back = run_task(revert(), revert_context(second))
    assert back.state == "success"
    assert statuses(emulator, ids) == before


def test_a_revert_retry_restores_only_what_the_first_try_did_not(emulator, monkeypatch):
    ids = seed_statuses(emulator, 9)
    before = statuses(emulator, ids)
    out = run_task(forward(ids))
    store = FakeTaskStateStore()
    # 9 records, 3 prior values, 5 a call: two Update Records calls beat three mass updates
    op = revert(max_concurrency=1, batch_size=5)
    real = type(op.hook).update_records
    calls = []

    def fail_once_on_the_second_call(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ZohoConnectionError("network down", maybe_delivered=False)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(op.hook), "update_records", fail_once_on_the_second_call)
    first = run_task(op, revert_context(out, store))
    assert first.state == "up_for_retry"
    assert first.summary["plan"]["update_calls"] == 2
    puts = len(update_puts(emulator))

    second = run_task(revert(max_concurrency=1, batch_size=5), revert_context(out, store))

    assert second.state == "success"
    assert statuses(emulator, ids) == before
    assert len(update_puts(emulator)) - puts == 1  # only the call that failed
    assert {r["outcome"] for r in second.records} == {"updated"}
    assert sum("earlier try" in r["message"] for r in second.records) == 5


def test_restoring_distinct_prior_values_costs_about_n_over_100_calls(emulator):
    ids = emulator.seed(count=450, fields={"City": "Paris"})
    for n, record_id in enumerate(ids):
        emulator.seed(ids=[record_id], fields={"City": f"City {n}"})  # a prior value each
    out = run_task(forward(ids, data={"City": "Oslo"}))
    posts = len(mass_update_posts(emulator))

    back = run_task(revert(), revert_context(out))

    assert back.state == "success", back.error
    assert statuses(emulator, ids, "City") == {i: f"City {n}" for n, i in enumerate(ids)}
    assert len(update_puts(emulator)) == 5  # ceil(450 / 100), not one mass update per value
    assert len(mass_update_posts(emulator)) == posts
    assert back.summary["plan"] == {
        "mass_update_calls": 0,
        "update_calls": 5,
        "estimated_credits": 45,
        "optimize": "calls",
    }


def test_an_update_records_run_is_reverted_from_its_snapshot(emulator):
    ids = emulator.seed(count=3, fields={"City": "Paris"})
    emulator.seed(ids=[ids[2]], fields={"City": "Rome"})
    rows = [{"id": i, "City": f"New {n}"} for n, i in enumerate(ids)]
    out = run_task(
        ZohoCRMUpdateRecordsOperator(
            task_id="update", module="Leads", rows=rows, trigger=[], snapshot=True, hook_params=FAST_HOOK
        )
    )
    emulator.seed(ids=[ids[1]], fields={"City": "Someone else"})  # changed since the run

    back = run_task(revert(), revert_context(out))

    assert [r["outcome"] for r in back.records] == ["updated", "skipped", "updated"]
    assert back.records[1]["code"] == "CHANGED_SINCE"
    assert statuses(emulator, ids, "City") == {ids[0]: "Paris", ids[1]: "Someone else", ids[2]: "Rome"}


def test_reading_first_fails_cleanly_before_any_write(emulator):
    ids = emulator.seed(count=3)
    emulator.refuse("NO_PERMISSION", operation="read")

    out = run_task(forward(ids, skip_unchanged=True))

    assert out.state == "failed"
    assert mass_update_posts(emulator) == []
    assert {r["code"] for r in out.records} == {"NOT_SENT"}
    assert "reading the records before writing failed, nothing was written" in out.summary["reason"]
    assert "NO_PERMISSION" in out.summary["reason"]


def test_a_run_that_wrote_nothing_leaves_an_empty_snapshot_to_revert(emulator):
    ids = emulator.seed(count=3)
    emulator.refuse("NO_PERMISSION", operation="read")
    out = run_task(forward(ids))
    assert out.state == "failed"
    assert (out.pushed["snapshot"], out.summary["snapshot"]["records"]) == ({}, 0)
    emulator.clear_refusals()

    back = run_task(revert(), revert_context(out))

    assert back.state == "skipped"
    assert "the snapshot holds no record" in str(back.error)
    assert mass_update_posts(emulator) == []


def test_reading_first_that_keeps_failing_is_retryable(emulator):
    ids = emulator.seed(count=3)
    emulator.configure(burst_5xx=10)

    out = run_task(forward(ids))

    assert out.state == "up_for_retry"
    assert mass_update_posts(emulator) == []
    assert len(out.records) == 3


def test_job_mode_refuses_skip_unchanged_and_snapshot(emulator):
    op = LeadsMassUpdateOperator(task_id="t", cvid="1", data={"City": "x"}, snapshot=True)

    out = run_task(op)

    assert out.state == "failed"
    assert "skip_unchanged and snapshot need ids" in str(out.error)
    assert crm_requests(emulator) == []


SOURCE = {"module": "Leads", "snapshot": {"data": {"City": "x"}}}


@pytest.mark.parametrize(
    ("summary", "snapshot", "message"),
    [
        (None, None, "pushed no mass update or Update Records summary"),
        ({"module": "Leads", "snapshot": None}, None, "took no snapshot: run it with snapshot=True"),
        (SOURCE, None, "pushed no snapshot XCom"),
        (SOURCE, {"abc": {"City": "y"}}, "ids must be numeric"),
        (SOURCE, {"1": {"Town": "y"}}, "no prior value"),
        (SOURCE, {"1": {"City": float("nan")}}, "City"),
    ],
)
def test_revert_refuses_an_unusable_source_before_any_call(emulator, summary, snapshot, message):
    upstream = {"update": {"return_value": summary, "snapshot": snapshot}}

    out = run_task(revert(), make_context(upstream=upstream))

    assert out.state == "failed"
    assert message in str(out.error)
    assert crm_requests(emulator) == []


def test_the_leads_revert_checks_the_source_module(emulator):
    upstream = {
        "update": {
            "return_value": {"module": "Contacts", "snapshot": {"data": {"City": "x"}}},
            "snapshot": {},
        }
    }

    out = run_task(
        LeadsRevertMassUpdateOperator(task_id="r", source_task_id="update"), make_context(upstream=upstream)
    )

    assert out.state == "failed"
    assert "module is 'Leads' but 'update' wrote 'Contacts'" in str(out.error)


def test_revert_of_an_empty_snapshot_is_skipped(emulator):
    ids = emulator.seed(count=2, fields={"Lead_Status": "Junk Lead"})
    out = run_task(forward(ids, skip_unchanged=True))  # nothing to change: nothing snapshotted
    assert out.pushed["snapshot"] == {}

    back = run_task(revert(), revert_context(out))

    assert back.state == "skipped"
    assert "the snapshot holds no record" in str(back.error)
    assert len(mass_update_posts(emulator)) == 0


def test_the_mapped_source_is_pulled_by_map_index(emulator):
    context = make_context(upstream={"update": {}})

    run_task(
        ZohoCRMRevertMassUpdateOperator(task_id="r", source_task_id="update", source_map_index=3), context
    )

    assert ("update", "snapshot", 3) in context["ti"].pulls


def test_a_retry_after_a_failed_reading_reads_only_the_pieces_not_kept(emulator, monkeypatch):
    ids = emulator.seed(count=1500, fields={"Lead_Status": "Junk Lead"})
    store = FakeTaskStateStore()
    op = forward(ids, skip_unchanged=True, max_concurrency=1)
    real = type(op.hook).iter_records

    def fail_on_the_second_piece(self, module, piece, fields):
        if piece[0] == ids[500]:
            raise ZohoConnectionError("network down", maybe_delivered=False)
        return real(self, module, piece, fields)

    monkeypatch.setattr(type(op.hook), "iter_records", fail_on_the_second_piece)
    first = run_task(op, make_context(store))
    assert first.state == "up_for_retry"
    assert mass_update_posts(emulator) == []
    monkeypatch.setattr(type(op.hook), "iter_records", real)
    reads = record_reads(emulator)
    kept = sum(len(v["ids"]) for v in map(json.loads, store.rows.values()) if "values" in v)
    assert kept in (500, 1000)  # the first piece, and the third if it started before the failure

    second = run_task(forward(ids, skip_unchanged=True, max_concurrency=4), make_context(store))

    assert second.state == "success"
    assert second.summary["unchanged"] == 1500
    assert mass_update_posts(emulator) == []
    # the ids not kept are read, 100 per read; those kept and found unchanged are read again, as
    # they may have moved since the first try read them
    assert record_reads(emulator) - reads == 1500 // 100
    assert second.summary["calls"]["read"] == 1500 // 100


def test_the_revert_keeps_the_credit_floor(emulator):
    ids = emulator.seed(count=3, fields={"Lead_Status": "Contacted"})
    out = run_task(forward(ids))
    emulator.configure(credit_budget=1_000)
    emulator.set_credits_used(900)  # other integrations spent them: 100 left, Zoho now says so
    posts = len(mass_update_posts(emulator))

    back = run_task(revert(min_credits_remaining=200), revert_context(out))

    assert back.state == "failed"
    assert len(mass_update_posts(emulator)) == posts
    assert "fewer than min_credits_remaining=200" in back.summary["reason"]
    assert {r["code"] for r in back.records} == {"NOT_SENT"}
    assert back.summary["credits_remaining"] is not None
    assert back.summary["credits_remaining"] < 200


def test_a_try_after_a_finished_snapshot_run_and_revert_sends_nothing_again(emulator):
    """A kill at the very last instant (after the XComs): the next try finds everything recorded."""
    ids = seed_statuses(emulator, 1200)
    before = statuses(emulator, ids)
    forward_store, revert_store = FakeTaskStateStore(), FakeTaskStateStore()
    first = run_task(forward(ids), make_context(forward_store))
    again = run_task(forward(ids), make_context(forward_store))  # the retry of the same instance
    assert (first.state, again.state) == ("success", "success")
    assert (
        again.pushed["snapshot"] == first.pushed["snapshot"] == {i: {"Lead_Status": before[i]} for i in ids}
    )
    assert len(mass_update_posts(emulator)) == 3  # 1,200 ids once: no post from the retry
    gets = record_reads(emulator)
    assert gets == 12 + 12  # the retry kept its reading, and read back what it claims as updated

    back = run_task(revert(), revert_context(first, revert_store))
    back_again = run_task(revert(), revert_context(first, revert_store))

    assert (back.state, back_again.state) == ("success", "success")
    assert statuses(emulator, ids) == before
    assert len(mass_update_posts(emulator)) == 3 + 3  # three groups, once
    assert all("earlier try" in r["message"] for r in back_again.records)
