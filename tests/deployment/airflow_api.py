"""The Airflow REST API calls the UI makes: log in, unpause, trigger, follow runs and task instances."""

from __future__ import annotations

import time
from typing import Any

import requests

TERMINAL = {"success", "failed"}


class AirflowAPI:
    """
    A logged-in REST API client of one api-server.

    :param url: the api-server's base URL.
    :param username: a user of the simple auth manager.
    :param password: its password.
    """

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        reply = self.session.post(
            f"{self.url}/auth/token", json={"username": username, "password": password}, timeout=120
        )
        reply.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v2<path>`` and return the JSON answer (raise on an error status)."""
        reply = self.session.request(method, f"{self.url}/api/v2{path}", timeout=120, **kwargs)
        if reply.status_code >= 400:
            raise AssertionError(f"{method} {path} answered {reply.status_code}: {reply.text[:500]}")
        return reply.json() if reply.content else None

    def wait_for_dags(self, dag_ids: set[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Wait until the dag-processor has parsed every DAG in ``dag_ids`` without import errors."""
        deadline = time.monotonic() + timeout
        while True:
            dags = {d["dag_id"]: d for d in self.call("GET", "/dags", params={"limit": 100})["dags"]}
            errors = self.call("GET", "/importErrors")["import_errors"]
            if errors:
                raise AssertionError(f"DAG import errors: {errors}")
            if dag_ids <= set(dags):
                return dags
            if time.monotonic() > deadline:
                raise AssertionError(f"DAGs not parsed after {timeout:.0f} s: {sorted(dag_ids - set(dags))}")
            time.sleep(2)

    def unpause(self, dag_id: str) -> None:
        """Switch the DAG on, as the UI's toggle does."""
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a run as the UI's trigger form does; return its run id."""
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return str(run["dag_run_id"])

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Return the DAG's runs (none while the api-server is too busy to answer in time)."""
        try:
            return list(self.call("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"])
        except requests.Timeout:
            return []

    def wait_for_one_run(self, dag_ids: set[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Wait until each DAG has exactly one run and it ended; return ``{dag_id: run}``."""
        deadline = time.monotonic() + timeout
        while True:
            runs = {dag_id: self.runs(dag_id) for dag_id in dag_ids}
            extra = {d: len(r) for d, r in runs.items() if len(r) > 1}
            if extra:
                raise AssertionError(f"more than one run: {extra}")
            done = {d: r[0] for d, r in runs.items() if r and r[0]["state"] in TERMINAL}
            if set(done) == dag_ids:
                return done
            if time.monotonic() > deadline:
                states = {d: [x["state"] for x in r] for d, r in runs.items()}
                raise AssertionError(f"runs not finished after {timeout:.0f} s: {states}")
            time.sleep(3)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Return the run's task instances (mapped ones one per map index)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return list(self.call("GET", path, params={"limit": 100})["task_instances"])

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Return the tries of one task instance (states the UI shows in its history)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        return list(self.call("GET", path)["task_instances"])
