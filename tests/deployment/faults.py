"""
Faults during a run of the stack: a worker killed, Redis, PostgreSQL and the emulator restarted.

:class:`FaultDriver` triggers on-demand runs over leads it seeds, waits for their progress in the
emulator's counters, breaks something, and notes what was in flight and how long recovery took.
What a run applied is read from the emulator's request log, which outlives the emulator's restart.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_api import AirflowAPI
    from conftest import Emulator
    from stack import Stack

ON_DEMAND = "leads_mass_update_on_demand"
MASS_UPDATE = "/crm/v8/Leads/actions/mass_update"
#: Zoho calls the on-demand update has in flight at once (its max_concurrency, the pool's size).
IN_FLIGHT = 4
#: Recovery figures of this session, printed at its end.
FIGURES: list[str] = []


def figure(line: str) -> None:
    """Note a measured figure (printed in the test session's summary)."""
    FIGURES.append(line)
    print(f"[compose] {line}", file=sys.stderr, flush=True)


def updates_setting(log: list[dict[str, Any]], value: str) -> list[dict[str, Any]]:
    """Return the ids-mode mass update calls that set ``City`` to ``value``, oldest first."""
    return [
        e
        for e in log
        if e["method"] == "POST"
        and e["path"] == MASS_UPDATE
        and isinstance(e["body"], dict)
        and "ids" in e["body"]
        and e["body"]["data"] == [{"City": value}]
    ]


def applied(log: list[dict[str, Any]], value: str) -> Counter[str]:
    """Return how many times each lead was updated to ``value`` (calls the emulator answered 200)."""
    return Counter(i for e in updates_setting(log, value) if e["status"] == 200 for i in e["body"]["ids"])


def in_flight(log: list[dict[str, Any]], value: str) -> set[str]:
    """
    Return the ids of the calls a fault may catch in flight: unanswered ones, and the last answered.

    A call the emulator answered just before the fault may not have had its reply recorded by the
    task yet, so the last :data:`IN_FLIGHT` answered calls count too.
    """
    calls = updates_setting(log, value)
    pending = [e for e in calls if e["status"] is None]
    answered = [e for e in calls if e["status"] is not None][-IN_FLIGHT:]
    return {i for e in [*pending, *answered] for i in e["body"]["ids"]}


@dataclass
class FaultRun:
    """One on-demand run and what happened around it."""

    run_id: str
    value: str
    ids: list[str]
    #: ids of the calls in flight at each fault (the only ones a retry may apply again)
    allowed_twice: set[str] = field(default_factory=set)
    run: dict[str, Any] = field(default_factory=dict)
    task_instances: dict[str, dict[str, Any]] = field(default_factory=dict)


class FaultDriver:
    """
    Runs on-demand updates on the stack and breaks things while they run.

    :param stack: the running stack.
    :param api: its REST API.
    :param emulator: its emulator's admin API.
    :param log: progress lines go here.
    """

    def __init__(self, stack: Stack, api: AirflowAPI, emulator: Emulator, log: Callable[[str], None]) -> None:
        self.stack, self.api, self.emulator, self.log = stack, api, emulator, log

    def admin(self, method: str, path: str, payload: Any = None, timeout: float = 120) -> Any:
        """Call the emulator's admin API, waiting out an outage of the emulator."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.emulator.call(method, path, payload)
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def changed(self) -> int:
        """Return the emulator's count of record changes."""
        return int(self.admin("GET", "/counters")["records_changed"])

    def start(self, count: int, value: str) -> FaultRun:
        """Seed ``count`` leads, trigger the on-demand update setting their City to ``value``."""
        ids = self.admin("POST", "/seed", {"module": "Leads", "count": count})["ids"]
        conf = {"ids": "\n".join(ids), "field": "City", "value": value}
        run = FaultRun(self.api.trigger(ON_DEMAND, conf), value, ids)
        self.log(f"{run.run_id}: {count} leads -> City {value!r}")
        return run

    def task(self, run: FaultRun, task_id: str = "update_leads") -> dict[str, Any]:
        """Return the run's task instance (its current try)."""
        return dict(self.api.call("GET", f"/dags/{ON_DEMAND}/dagRuns/{run.run_id}/taskInstances/{task_id}"))

    def wait(self, what: str, ready: Callable[[], Any], timeout: float = 300) -> Any:
        """Poll ``ready()`` until it returns something true; return it (fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not (result := ready()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout:.0f} s")
            time.sleep(0.5)
        return result

    def wait_progress(self, records: int, timeout: float = 300) -> float:
        """Wait until the emulator changed ``records`` more records; return the seconds it took."""
        started, target = time.monotonic(), self.changed() + records
        self.wait(f"{records} more records changed", lambda: self.changed() >= target, timeout)
        return time.monotonic() - started

    def worker_running(self, run: FaultRun) -> str:
        """Wait until the update runs on a worker; return that worker's container name."""
        ti = self.wait("update_leads running", lambda: (t := self.task(run))["state"] == "running" and t)
        containers = self.stack.containers()
        return next(n for n, c in containers.items() if c["Config"]["Hostname"] == ti["hostname"])

    def note_in_flight(self, run: FaultRun) -> None:
        """Remember the calls in flight now: a retry may apply them again."""
        run.allowed_twice |= in_flight(self.admin("GET", "/log"), run.value)

    def kill_worker(self, run: FaultRun) -> float:
        """``docker kill`` the worker running the update (then start it again); return when, monotonic."""
        container = self.worker_running(run)
        subprocess.run(["docker", "kill", container], check=True, capture_output=True)
        killed = time.monotonic()
        self.note_in_flight(run)
        self.log(f"{run.run_id}: killed {container}")
        subprocess.run(["docker", "start", container], check=True, capture_output=True)
        return killed

    def restart(self, run: FaultRun, service: str) -> float:
        """Restart a service of the stack mid-run; return the seconds until records change again."""
        self.note_in_flight(run)
        started = time.monotonic()
        self.stack.compose("restart", service, timeout=120)
        down = time.monotonic() - started
        resumed = self.wait_progress(2 * 500) + down
        figure(f"{service} restart: {down:.1f} s to restart, run progressing again {resumed:.1f} s after")
        return resumed

    def init_state(self) -> dict[str, Any]:
        """Return the ``State`` of the airflow-init container."""
        [state] = [
            c["State"]
            for c in self.stack.containers().values()
            if c["Config"]["Labels"]["com.docker.compose.service"] == "airflow-init"
        ]
        return dict(state)

    def rerun_init(self) -> str:
        """Start airflow-init again, as the next ``up`` does; return when its last run had finished."""
        finished = str(self.init_state()["FinishedAt"])
        self.stack.compose("up", "-d", "--no-build", "--no-deps", "airflow-init", timeout=300)
        return finished

    def init_ended(self, before: str) -> dict[str, Any] | None:
        """Return airflow-init's state once a run that finished after ``before`` is over, else None."""
        state = self.init_state()
        return state if state["Status"] == "exited" and state["FinishedAt"] != before else None

    def finish(self, run: FaultRun, timeout: float = 600) -> FaultRun:
        """Wait until the run ended; keep its final state and task instances."""
        path = f"/dags/{ON_DEMAND}/dagRuns/{run.run_id}"
        run.run = self.wait(
            f"{run.run_id} ended",
            lambda: (r := self.api.call("GET", path))["state"] in ("success", "failed") and r,
            timeout,
        )
        run.task_instances = {t["task_id"]: t for t in self.api.task_instances(ON_DEMAND, run.run_id)}
        return run

    def xcom(self, run: FaultRun, task_id: str, key: str = "return_value") -> Any:
        """Return an XCom of the run's task (None when it has none)."""
        path = f"/dags/{ON_DEMAND}/dagRuns/{run.run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        try:
            return self.api.call("GET", path, params={"deserialize": True})["value"]
        except AssertionError as err:
            if " 404:" in str(err):
                return None
            raise
