"""
One real docker-compose stack for the module: built, started, driven through the REST API, torn down.

The ``compose_stack`` fixture skips (saying why) where no Docker engine runs; everything else that
goes wrong fails the tests, with every service's log kept in a file whose path the failure names.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from airflow_api import AirflowAPI
from stack import REPO, Stack, StackError, base_images, docker_unavailable

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Pool size and the leads `make demo` also stages: enough Zoho calls to press on the pool.
POOL_SLOTS = 4
GENERATED_LEADS = 3000
#: Seconds each CRM call takes in the emulator, so that calls overlap and the pool has work to do.
LATENCY = 0.3
SCHEDULED = "leads_mass_update_daily"  # its run comes from the scheduler once it is switched on
TRIGGERED = {
    "leads_mass_update_on_demand": {},
    "leads_stage_candidates": {},
    "leads_mass_update_job_mode": {},
    "leads_mass_update_mapped": {},
}
ON_ASSET = "leads_mass_update_on_asset"  # its run comes from the asset event of leads_stage_candidates
DAG_IDS = {SCHEDULED, ON_ASSET, *TRIGGERED}


@dataclass
class Emulator:
    """Admin API of the stack's emulator, over https with its private CA."""

    url: str
    ca: Path
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        reply = self.session.request(
            method, f"{self.url}/__emulator__{path}", json=payload, verify=str(self.ca), timeout=30
        )
        reply.raise_for_status()
        return reply.json()


@dataclass
class StackRun:
    """What the stack did: runs, task instances, the emulator's view, the staging tables."""

    stack: Stack
    api: AirflowAPI
    emulator: Emulator
    runs: dict[str, dict[str, Any]]
    task_instances: dict[str, list[dict[str, Any]]]
    worker_hosts: set[str]
    staged: list[str]
    issues: list[tuple[str, str, str, str]]
    counters: dict[str, Any] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: list[dict[str, Any]] = field(default_factory=list)


def staging_sql(stack: Stack, query: str) -> list[list[str]]:
    """Run ``query`` on the stack's staging database (psql in its container); return rows of text."""
    out = stack.compose(
        "exec", "-T", "postgres", "psql", "-U", "airflow", "-d", "staging", "-AtF", "\t", "-c", query
    )
    return [line.split("\t") for line in out.splitlines() if line]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the recovery figures the fault scenarios measured."""
    from faults import FIGURES

    if FIGURES:
        terminalreporter.section("docker-compose stack: recovery")
        for line in FIGURES:
            terminalreporter.write_line(line)


def _log(message: str) -> None:
    print(f"[compose] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def compose_variables() -> dict[str, str]:
    """Image names for the stack: local bases (built once per lock), and the image of this checkout."""
    reason = docker_unavailable()
    if reason:
        pytest.skip(f"docker-compose stack not tested: {reason}")
    try:
        variables = base_images(_log)
    except StackError as err:
        pytest.fail(f"building the base images failed: {err}")
    return {**variables, "AIRFLOW_IMAGE_NAME": f"{REPO}/airflow-crm-provider:checkout"}


@pytest.fixture(scope="session")
def compose_stack(
    compose_variables: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackRun]:
    """Build and start the stack, run the example pipelines through the scheduler, tear it all down.

    One stack for the session: the fault scenarios (test_stack_faults.py) run on it after the pipelines.
    """
    workdir = tmp_path_factory.mktemp("compose")
    stack = Stack(workdir, compose_variables)
    failed = True
    try:
        _log("docker build (this checkout)")
        stack.build()
        _log(f"docker-compose up -p {stack.project}")
        stack.up()
        result = _drive(stack, workdir)
        failed = False
        yield result
    except StackError as err:
        pytest.fail(f"{err}\n(service logs: {stack.logs()})")
    finally:
        if failed:
            _log(f"service logs kept in {stack.logs()}")
        _log("docker-compose down -v")
        stack.down()


def _drive(stack: Stack, workdir: Path) -> StackRun:
    """Seed, switch the DAGs on, trigger them through the REST API and wait for every run."""
    emulator_container = next(n for n in stack.containers() if "_emulator_" in n)
    ca = workdir / "emulator-ca.pem"
    subprocess.run(["docker", "cp", f"{emulator_container}:/opt/emulator-tls/ca.pem", str(ca)], check=True)
    emulator = Emulator(f"https://127.0.0.1:{stack.emulator_port}", ca)
    emulator.call("POST", "/config", {"latency": LATENCY})
    _log(f"staging {GENERATED_LEADS} more leads (the seed command, in the scheduler's container)")
    seed = (
        'AIRFLOW_CONN_LEADS_STAGING="$LEADS_STAGING_CONNECTION" exec python -m '
        f"airflow_crm_provider.testing.staging --emulator-url https://emulator:8443 --leads {GENERATED_LEADS}"
    )
    stack.compose("exec", "-T", "airflow-scheduler", "bash", "-c", seed)
    api = AirflowAPI(f"http://127.0.0.1:{stack.api_port}", "airflow", "airflow")
    api.wait_for_dags(DAG_IDS, timeout=180)
    for dag_id in sorted(DAG_IDS):
        api.unpause(dag_id)
    for dag_id, conf in TRIGGERED.items():
        api.trigger(dag_id, conf)
    _log("waiting for the runs")
    runs = api.wait_for_one_run(DAG_IDS, timeout=600)
    tis = {d: api.task_instances(d, r["dag_run_id"]) for d, r in runs.items()}
    workers = {c["Config"]["Hostname"] for n, c in stack.containers().items() if "_airflow-worker_" in n}
    staged = [row[0] for row in staging_sql(stack, "SELECT lead_id FROM lead_candidates")]
    issues = staging_sql(stack, "SELECT dag_id, lead_id, outcome, code FROM lead_update_issues")
    run = StackRun(
        stack, api, emulator, runs, tis, workers, staged, [(r[0], r[1], r[2], r[3]) for r in issues]
    )
    run.counters = emulator.call("GET", "/counters")
    run.log = emulator.call("GET", "/log")
    run.records = emulator.call("GET", "/records/Leads")
    run.jobs = emulator.call("GET", "/jobs")
    (workdir / "runs.json").write_text(
        json.dumps({"runs": runs, "task_instances": tis}, indent=1, default=str)
    )
    return run
