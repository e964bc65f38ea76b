"""
The docker-compose stack, for real: the example pipelines run through the scheduler on two Celery
workers and the triggerer, triggered through the REST API as the UI does.

What the emulator and the staging database hold afterwards is checked against what each DAG must
do (dags/README.md): values, one token for the whole stack, no chunk applied twice, the pool's cap.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from conftest import DAG_IDS, ON_ASSET, POOL_SLOTS, SCHEDULED

from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID, SEED_IDS

if TYPE_CHECKING:
    from conftest import StackRun

pytestmark = [pytest.mark.slow, pytest.mark.compose]

MASS_UPDATE = "/crm/v8/Leads/actions/mass_update"
#: DAG id -> the field and value its update sets (ids mode).
WRITES = {
    SCHEDULED: ("Lead_Status", "Contacted"),
    ON_ASSET: ("Lead_Source", "Trade Show"),
    "leads_mass_update_mapped": ("Industry", "Systems Integrator"),
    "leads_mass_update_on_demand": ("City", "Lisbon"),
}


def _posts(run: StackRun) -> list[dict[str, Any]]:
    """The ids-mode mass update calls the emulator answered, oldest first."""
    return [
        e
        for e in run.log
        if e["method"] == "POST" and e["path"] == MASS_UPDATE and "ids" in (e["body"] or {})
    ]


def _not_updated(run: StackRun, dag_id: str) -> set[str]:
    """Ids the DAG's report task recorded as failed or skipped."""
    return {lead for dag, lead, _outcome, _code in run.issues if dag == dag_id}


def test_every_run_ends_in_its_expected_state(compose_stack: StackRun) -> None:
    assert {d: r["state"] for d, r in compose_stack.runs.items()} == dict.fromkeys(DAG_IDS, "success")
    assert compose_stack.runs[SCHEDULED]["run_type"] == "scheduled"
    assert compose_stack.runs[ON_ASSET]["run_type"] == "asset_triggered"
    states = {
        (d, ti["task_id"], ti["map_index"]): ti["state"]
        for d, tis in compose_stack.task_instances.items()
        for ti in tis
    }
    assert {k: s for k, s in states.items() if s != "success"} == {}
    mapped = [k for k in states if k[0] == "leads_mass_update_mapped" and k[1] == "update_chunk"]
    assert len(mapped) == -(-len(compose_stack.staged) // 500)  # one mapped task per chunk of 500


def test_every_service_reports_healthy(compose_stack: StackRun) -> None:
    states = compose_stack.stack.wait_healthy(timeout=600)
    services = Counter(name.split(":")[0] for name in states)
    assert services == {
        **dict.fromkeys(
            ["postgres", "redis", "emulator", "airflow-init", "airflow-apiserver", "airflow-scheduler"], 1
        ),
        **dict.fromkeys(["airflow-dag-processor", "airflow-triggerer"], 1),
        "airflow-worker": 2,
    }


def test_both_workers_executed_tasks(compose_stack: StackRun) -> None:
    assert len(compose_stack.worker_hosts) == 2
    hosts = Counter(ti["hostname"] for tis in compose_stack.task_instances.values() for ti in tis)
    assert compose_stack.worker_hosts <= set(hosts), hosts


def test_the_store_holds_what_each_dag_wrote(compose_stack: StackRun) -> None:
    records = compose_stack.records
    staged = set(compose_stack.staged)
    assert set(SEED_IDS) <= staged
    assert len(staged) > 3000
    for dag_id, (field, value) in WRITES.items():
        targets = set(SEED_IDS) if dag_id == "leads_mass_update_on_demand" else staged
        skipped = _not_updated(compose_stack, dag_id)
        assert skipped < targets, dag_id
        wrong = sorted(i for i in targets - skipped if records[i].get(field) != value)
        assert wrong == [], f"{dag_id}: {len(wrong)} lead(s) without {field}={value!r}"
        # (The skipped ones may hold the value from before: that they were left alone is proven by
        # the emulator's change count in test_no_chunk_was_applied_twice.)
    codes = Counter(code for _dag, _lead, _outcome, code in compose_stack.issues)
    assert set(codes) <= {"NOT_APPROVED", "RECORD_LOCKED"}, codes
    [job] = compose_stack.jobs  # job mode: every lead of the custom view rated Hot
    assert (job["cvid"], job["Status"]) == (LEADS_VIEW_ID, "COMPLETED")
    assert job["Updated_Count"] == job["Total_Count"] > 0
    assert sum(1 for r in records.values() if r.get("Rating") == "Active") >= job["Updated_Count"]


def test_exactly_one_token_was_minted_for_the_whole_stack(compose_stack: StackRun) -> None:
    assert compose_stack.counters["tokens_minted"] == 1
    assert compose_stack.counters["mints_throttled"] == 0
    grants = [e for e in compose_stack.log if e["path"].endswith("/oauth/v2/token")]
    assert len(grants) == 1


def test_no_chunk_was_applied_twice(compose_stack: StackRun) -> None:
    posts = _posts(compose_stack)
    assert posts
    assert all(p["status"] == 200 for p in posts)
    sent = Counter(json_key(p["body"]) for p in posts)
    repeated = {k for k, n in sent.items() if n > 1}
    # A re-send carries only the RECORD_LOCKED records of an earlier call, never a whole chunk again.
    assert all(len(ids) < 50 for _data, ids in repeated), repeated
    # Every record change the emulator counted is one (field, lead) the stack wanted changed once.
    applied = set()
    for p in posts:
        field, value = next(iter(p["body"]["data"][0].items()))
        dag_id = next(d for d, w in WRITES.items() if w == (field, value))
        applied |= {(field, i) for i in p["body"]["ids"] if i not in _not_updated(compose_stack, dag_id)}
    [job] = compose_stack.jobs
    assert compose_stack.counters["records_changed"] == len(applied) + job["Updated_Count"]


def json_key(body: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """A mass update call as (data, ids), to compare calls."""
    return (repr(sorted(body["data"][0].items())), tuple(body["ids"]))


def test_the_pool_capped_concurrent_zoho_calls_at_its_size(compose_stack: StackRun) -> None:
    # The calls of all tasks on both workers share one token, so this is the stack-wide maximum.
    assert compose_stack.counters["max_in_flight"] == POOL_SLOTS
    assert compose_stack.counters["answered_429"] == 0


def test_the_triggerer_completed_the_deferrable_job(compose_stack: StackRun) -> None:
    run = compose_stack.runs["leads_mass_update_job_mode"]
    [ti] = compose_stack.task_instances["leads_mass_update_job_mode"]
    assert (ti["task_id"], ti["state"], ti["try_number"]) == ("update_view", "success", 1)
    path = f"/dags/leads_mass_update_job_mode/dagRuns/{run['dag_run_id']}/taskInstances/update_view/logs/1"
    log = compose_stack.api.call(
        "GET", path, params={"full_content": True}, headers={"Accept": "application/json"}
    )
    text = "\n".join(str(e.get("event", e)) if isinstance(e, dict) else str(e) for e in log["content"])
    assert "Trigger fired event" in text or "trigger" in text.lower(), text[-2000:]
    [job] = compose_stack.jobs
    status_polls = [e for e in compose_stack.log if e["method"] == "GET" and e["path"] == MASS_UPDATE]
    assert status_polls  # the triggerer polled the job's status until it completed
    assert job["Status"] == "COMPLETED"
