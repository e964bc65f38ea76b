"""
Chaos over a snapshot and its revert: 6,000 Leads with five prior values, latency, 429s, 5xx,
dropped connections and replies lost after Zoho applied them, at 10 calls in flight.

The forward run's snapshot holds the values from before it; the revert restores every record
exactly, and its ``records`` XCom tells the truth about the store.
"""

from __future__ import annotations

import pytest

from airflow_crm_provider.operators.revert import LeadsRevertMassUpdateOperator
from tests.operator.fakes import make_context
from tests.operator.helpers import run_task
from tests.reliability.helpers import CHAOS_HOOK

FIELD = "Lead_Status"
PRIORS = ("Not Contacted", "Attempted to Contact", "Contacted", "Pre-Qualified", None)
PER_PRIOR = 1_200
CHAOS = {
    "seed": 7_013,
    "latency": 0.01,
    "latency_jitter": 0.03,
    "rate_429": 0.05,
    "rate_5xx": 0.05,
    "drop_connections": 2,
    "concurrency_limit": 10,
}


@pytest.mark.usefixtures("zoho_crm_conn")
def test_snapshot_and_revert_under_chaos(zoho_emulator, knobs):
    from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator

    client = zoho_emulator.client
    ids: list[str] = []
    for prior in PRIORS:
        ids += client.seed("Leads", count=PER_PRIOR, fields={FIELD: prior})
    store = client.records("Leads")
    before = {i: store[i].get(FIELD) for i in ids}
    knobs.update(CHAOS, records=len(ids), hook=CHAOS_HOOK)
    client.configure(**CHAOS)

    forward = run_task(
        LeadsMassUpdateOperator(
            task_id="update",
            ids=ids,
            data={FIELD: "Junk Lead"},
            snapshot=True,
            max_concurrency=10,
            locked_retry_delay=0,
            hook_params=CHAOS_HOOK,
        )
    )
    knobs.update(forward=forward.state, forward_error=str(forward.error))
    assert forward.state == "success", forward.error
    assert forward.pushed["snapshot"] == {i: {FIELD: before[i]} for i in ids}

    client.configure(lose_replies=3)  # the revert's calls are applied, then their replies lost
    back = run_task(
        LeadsRevertMassUpdateOperator(
            task_id="revert",
            source_task_id="update",
            max_concurrency=10,
            locked_retry_delay=0,
            hook_params=CHAOS_HOOK,
        ),
        make_context(upstream={"update": forward.pushed}),
    )
    counters = client.counters()
    knobs.update(revert=back.state, revert_error=str(back.error), counters=counters)

    after = client.records("Leads")
    assert [r["id"] for r in back.records] == ids
    for record in back.records:
        stored = after[record["id"]].get(FIELD)
        if record["outcome"] == "updated":
            assert stored == before[record["id"]], record
        else:
            assert stored == "Junk Lead", record  # reported not restored: untouched
    assert back.state == "success", back.error
    assert {i: after[i].get(FIELD) for i in ids} == before
    assert counters["answered_429"] + counters["answered_5xx"] + counters["dropped_connections"] > 0
