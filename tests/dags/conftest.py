"""Fixtures of the example pipeline tests: the dags folder importable, a SQLite staging DB, DAG loading."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

DAGS = Path(__file__).parents[2] / "dags"
#: Hook retries kept small so the runs stay fast.
FAST_HOOK = {"max_attempts": 2, "backoff_base": 0.01, "max_retry_wait": 2.0, "max_token_wait": 0.0}


@pytest.fixture(scope="session", autouse=True)
def dags_importable():
    """Put dags/ on sys.path, as Airflow's bundle DagBag does for DAG files importing their neighbours."""
    sys.path.insert(0, str(DAGS))
    yield
    sys.path.remove(str(DAGS))


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated metadata DB (SQLite under the test AIRFLOW_HOME), once per session."""
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], check=True, capture_output=True, env=os.environ.copy(), timeout=300
    )


class Staging:
    """The staging SQLite DB of one test, behind the ``leads_staging`` connection."""

    def __init__(self, path: Path):
        self.path = path

    def query(self, sql: str, *params):
        with sqlite3.connect(self.path) as db:
            return db.execute(sql, params).fetchall()

    def execute(self, sql: str, *params) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute(sql, params)


@pytest.fixture
def staging(tmp_path, monkeypatch) -> Staging:
    """A SQLite staging DB in tmp_path, seeded by the seed command's code with the default candidates."""
    from airflow.sdk import BaseHook

    from airflow_crm_provider.testing.staging import DEFAULT_CANDIDATES, stage

    path = tmp_path / "staging.db"
    monkeypatch.setenv("AIRFLOW_CONN_LEADS_STAGING", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    stage(BaseHook.get_hook("leads_staging"), DEFAULT_CANDIDATES)
    return Staging(path)


def _fast(task) -> None:
    """Make a Zoho task of an example DAG fast: no re-send or retry delay, few hook retries, quick polls."""
    fast = {
        "locked_retry_delay": 0,
        "hook_params": FAST_HOOK,
        "poll_interval": 0.1,
        "retry_delay": timedelta(0),
    }
    if hasattr(task, "partial_kwargs"):  # mapped
        task.partial_kwargs.update(fast)
    else:
        for name, value in fast.items():
            setattr(task, name, value)


@pytest.fixture
def load_dags(airflow_db, zoho_crm_conn, staging):
    """Return ``load(file_name) -> {dag_id: DAG}``: fresh DAG objects per test, Zoho tasks made fast."""

    def load(file_name: str):
        spec = importlib.util.spec_from_file_location(f"dag_under_test_{uuid.uuid4().hex}", DAGS / file_name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        dags = {dag.dag_id: dag for dag in vars(module).values() if type(dag).__name__ == "DAG"}
        for dag in dags.values():
            for task in dag.tasks:
                if task.task_type in {
                    "LeadsMassUpdateOperator",
                    "FormMassUpdate",
                    "LeadsRevertMassUpdateOperator",
                }:
                    _fast(task)
        return dags

    return load


def states(dag_run) -> dict[str, str]:
    """Return ``{task_id or task_id[map_index]: state}`` of a DAG run."""
    return {
        ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": ti.state
        for ti in dag_run.get_task_instances()
    }


def xcom(dag_run, task_id: str, key: str = "return_value", map_index: int = -1):
    """Return one XCom value of a task in a DAG run (None when absent)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
        rows = {row.map_index: XComModel.deserialize_value(row) for row in session.scalars(query)}
    return rows.get(map_index)


@pytest.fixture
def dag_from_source(airflow_db, tmp_path, monkeypatch):
    """Return ``load(source) -> {dag_id: DAG}``: DAG code written as a file of a dags folder of this test."""
    from airflow import settings

    folder = tmp_path / "dags"
    folder.mkdir()
    # dag.test() serialises the DAG from its bundle: the folder is the dags folder for this test
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(folder))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(folder))

    def load(source: str):
        name = f"dag_under_test_{uuid.uuid4().hex}"
        path = folder / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {dag.dag_id: dag for dag in vars(module).values() if type(dag).__name__ == "DAG"}

    return load
