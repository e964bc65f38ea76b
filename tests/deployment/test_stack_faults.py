"""
Faults during on-demand runs on the stack, each while Zoho calls are in flight.

- ``lost``: the worker running the update is killed; the scheduler finds it lost after its heartbeat
  timeout and the retry resumes from the task-state store on a worker.
- ``given_up``: the worker is killed and the update marked failed (no try left): the report says
  every lead is unknown, and ``scripts/task_records.py`` lists what the state store knows.
- ``restarts``: the emulator (a Zoho outage), Redis (broker and token cache) and PostgreSQL
  restart one after the other during one run.

Every lead must end with a truthful record; none may be applied twice except in calls in flight at
a fault; the runs end in the state that tells what happened. Recovery times are printed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest
from conftest import _log
from faults import ON_DEMAND, FaultDriver, FaultRun, applied, figure
from stack import ROOT

if TYPE_CHECKING:
    from conftest import StackRun

pytestmark = [pytest.mark.slow, pytest.mark.compose]

#: Seconds each Zoho call takes: a run of 40 calls of 500 ids, 4 at a time, lasts about 20 s unbroken.
LATENCY = 2.0
LOST, GIVEN_UP, RESTARTS = 12_000, 6_000, 20_000
#: The zoho_crm pool's size while the faults run (raised as in the UI): two runs of 4 slots at once.
POOL_RAISED = 8


@pytest.fixture(scope="module")
def faults(compose_stack: StackRun) -> dict[str, Any]:
    """
    Run the fault scenarios on the session's stack, overlapping where one only waits.

    While the scheduler has yet to find the first killed worker lost, the second scenario runs (the
    pool is raised to :data:`POOL_RAISED` in the UI's way, so both fit) and ``airflow-init`` runs again
    as the next ``up`` would. The restarts come last, alone.
    """
    driver = FaultDriver(compose_stack.stack, compose_stack.api, compose_stack.emulator, _log)
    driver.admin("POST", "/config", {"latency": LATENCY, "log_limit": 100_000})
    # the UI's pool form sends the whole pool; only its size changes
    raised = {"pool": "zoho_crm", "slots": POOL_RAISED, "include_deferred": False}
    compose_stack.api.call("PATCH", "/pools/zoho_crm", params={"update_mask": "slots"}, json=raised)
    runs: dict[str, Any] = {"driver": driver}

    lost = runs["lost"] = driver.start(LOST, "Coimbra")  # a City no lead holds before
    driver.worker_running(lost)
    driver.wait_progress(4 * 500)
    killed = driver.kill_worker(lost)
    runs["init_before"] = driver.rerun_init()

    given_up = runs["given_up"] = driver.start(GIVEN_UP, "Faro")
    driver.worker_running(given_up)
    driver.wait_progress(4 * 500)
    driver.kill_worker(given_up)
    # no try left: the user gives up on it (Airflow would not retry it again either)
    given_up_task = f"/dags/{ON_DEMAND}/dagRuns/{given_up.run_id}/taskInstances/update_leads"
    compose_stack.api.call("PATCH", given_up_task, json={"new_state": "failed"})

    driver.wait(
        "the retry running", lambda: (t := driver.task(lost))["try_number"] >= 2 and t["state"] == "running"
    )
    retried = time.monotonic() - killed
    driver.finish(lost)
    ended = time.monotonic() - killed
    figure(f"worker killed: the retry ran {retried:.0f} s later, the run ended {ended:.0f} s later")
    driver.finish(given_up)
    runs["given_up_listing"] = _task_records(compose_stack, given_up)
    runs["init_after"] = driver.wait("airflow-init run again", lambda: driver.init_ended(runs["init_before"]))
    runs["pool"] = compose_stack.api.call("GET", "/pools/zoho_crm")

    restarts = runs["restarts"] = driver.start(RESTARTS, "Braga")
    driver.worker_running(restarts)
    driver.wait_progress(4 * 500)
    for service in ("emulator", "redis", "postgres"):
        driver.restart(restarts, service)
    driver.finish(restarts)
    figure(
        f"restarts: update_leads ended {restarts.task_instances['update_leads']['state']} "
        f"on try {restarts.task_instances['update_leads']['try_number']}"
    )

    runs["log"] = driver.admin("GET", "/log")
    runs["records"] = driver.admin("GET", "/records/Leads")
    return runs


def _task_records(stack_run: StackRun, run: FaultRun) -> dict[str, tuple[str, str]]:
    """Run the documented command on the host: ``{id: (outcome, code)}`` from the state store."""
    command = [sys.executable, str(ROOT / "scripts" / "task_records.py"), ON_DEMAND]
    command += [run.run_id, "--url", f"http://127.0.0.1:{stack_run.stack.api_port}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    _log(f"task_records.py: {done.stderr.strip()}")
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    return {row[0]: (row[1], row[2]) for row in rows}


def _assert_truthful(run: FaultRun, records: list[dict[str, Any]], store: dict[str, Any]) -> None:
    assert [r["id"] for r in records] == run.ids  # one record per requested id, in order
    assert {(r["outcome"], r["code"]) for r in records} == {("updated", "SUCCESS")}
    wrong = [i for i in run.ids if store[i]["City"] != run.value]
    assert wrong == [], f"{len(wrong)} lead(s) reported updated without the value"


def _assert_applied_once(run: FaultRun, log: list[dict[str, Any]]) -> None:
    counts = applied(log, run.value)
    assert set(counts) == set(run.ids)
    twice = {i for i, n in counts.items() if n > 1}
    assert twice <= run.allowed_twice, (
        f"{len(twice - run.allowed_twice)} lead(s) applied twice outside a fault"
    )
    assert max(counts.values()) <= 2
    allowed = len(run.allowed_twice)
    figure(f"{run.run_id}: {len(twice)} lead(s) applied twice (in flight at a fault: {allowed})")


def test_a_lost_worker_is_retried_and_the_retry_pushes_every_record(faults: dict[str, Any]) -> None:
    run: FaultRun = faults["lost"]
    driver: FaultDriver = faults["driver"]
    assert run.run["state"] == "success"
    update = run.task_instances["update_leads"]
    assert (update["state"], update["try_number"]) == ("success", 2)
    _assert_truthful(run, driver.xcom(run, "update_leads", "records"), faults["records"])
    _assert_applied_once(run, faults["log"])
    assert driver.xcom(run, "report")["issues"] == 0


def test_a_run_whose_last_try_was_lost_says_unknown_and_the_state_store_tells_what_was_applied(
    faults: dict[str, Any],
) -> None:
    run: FaultRun = faults["given_up"]
    driver: FaultDriver = faults["driver"]
    assert run.run["state"] == "failed"
    assert run.task_instances["update_leads"]["state"] == "failed"
    assert run.task_instances["report"]["state"] == "success"
    assert driver.xcom(run, "update_leads", "records") is None  # the killed try pushed nothing
    report = driver.xcom(run, "report")
    assert report == {
        "by_code": {"NOT_REPORTED": GIVEN_UP},
        "by_outcome": {"unknown": GIVEN_UP},
        "issues": GIVEN_UP,
    }
    listing: dict[str, tuple[str, str]] = faults["given_up_listing"]
    assert set(listing) == set(run.ids)
    outcomes = {i: outcome for i, (outcome, _code) in listing.items()}
    holding = {i for i in run.ids if faults["records"][i]["City"] == run.value}
    listed_applied = {i for i, o in outcomes.items() if o == "applied"}
    assert listed_applied, "the state store recorded no chunk before the kill"
    assert set(outcomes.values()) <= {"applied", "unknown"}  # plain leads: never "not applied"
    assert listed_applied <= holding  # what it calls applied was applied
    assert holding - listed_applied <= run.allowed_twice  # the rest of what was applied: in flight
    figure(f"given up: {len(listed_applied)} listed applied, {len(outcomes) - len(listed_applied)} unknown")


def test_restarts_of_the_emulator_redis_and_postgres_mid_run_lose_nothing(faults: dict[str, Any]) -> None:
    run: FaultRun = faults["restarts"]
    driver: FaultDriver = faults["driver"]
    assert run.run["state"] == "success", run.task_instances
    _assert_truthful(run, driver.xcom(run, "update_leads", "records"), faults["records"])
    _assert_applied_once(run, faults["log"])
    # the emulator's org outlived its restart: the leads seeded before it are all still there
    assert set(run.ids) <= set(faults["records"])


def test_postgres_restarts_cleanly(faults: dict[str, Any], compose_stack: StackRun) -> None:
    [postgres] = [n for n in compose_stack.stack.containers() if "_postgres_" in n]
    log = subprocess.run(["docker", "logs", postgres], capture_output=True, text=True, check=True)
    text = log.stdout + log.stderr
    assert "database system is shut down" in text  # a fast shutdown ran to its end
    assert "database system was shut down at" in text
    assert "not properly shut down" not in text  # so no crash recovery at the next start


def test_a_pool_size_set_in_the_ui_outlives_the_next_up(faults: dict[str, Any]) -> None:
    assert faults["init_after"]["ExitCode"] == 0  # airflow-init ran again, as at the next `up`
    assert faults["pool"]["slots"] == POOL_RAISED
