"""A deferrable job-mode task in a real DAG run (``dag.test()`` runs the trigger in-process)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

DAG_SOURCE = """
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator

@task
def check(ti=None):
    job_id = ti.xcom_pull(task_ids="rate_view", key="job_id")["job_id"]
    summary = ti.xcom_pull(task_ids="rate_view")
    return {"job_id": job_id, "type": type(job_id).__name__, "summary_job_id": summary["job_id"]}


with DAG("zoho_job_mode_deferred", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False,
         params={"view": "738964000000087501"}) as dag:
    LeadsMassUpdateOperator(
        task_id="rate_view",
        data={"Rating": "Hot"},
        cvid="{{ params.view }}",
        deferrable=True,
        poll_interval=0.1,
        timeout=60,
        max_failed_records=100,
    ) >> check()
"""


@pytest.fixture(scope="module")
def airflow_db():
    """A migrated metadata DB (SQLite under the test AIRFLOW_HOME)."""
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], check=True, capture_output=True, env=os.environ.copy(), timeout=300
    )


def load_dag(tmp_path):
    path = tmp_path / "zoho_job_mode_deferred.py"
    path.write_text(DAG_SOURCE)
    spec = importlib.util.spec_from_file_location("zoho_job_mode_deferred_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return next(v for v in vars(module).values() if type(v).__name__ == "DAG")


def xcoms(dag_run, task_id):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id)
        )
        return {row.key: XComModel.deserialize_value(row) for row in rows}


def test_deferred_job_runs_to_success(airflow_db, zoho_crm_conn, zoho_emulator, tmp_path, monkeypatch):
    from airflow import settings

    # dag.test() serialises the DAG from its bundle: make tmp_path the dags folder for this test
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(tmp_path))
    client = zoho_emulator.client
    client.configure(job_duration=0.5)
    dag_run = load_dag(tmp_path).test()

    assert {ti.task_id: ti.state for ti in dag_run.get_task_instances()} == {
        "rate_view": "success",
        "check": "success",
    }
    pushed = xcoms(dag_run, "rate_view")
    summary = pushed["return_value"]
    assert (summary["mode"], summary["outcome"], summary["job_status"]) == ("job", "success", "COMPLETED")
    assert pushed["records"] == []
    # what a downstream task pulls: the job id, a string (it exceeds 2**53)
    pulled = xcoms(dag_run, "check")["return_value"]
    assert pulled == {"job_id": summary["job_id"], "type": "str", "summary_job_id": summary["job_id"]}
    assert client.counters()["mass_update_posts"] == 1
    assert client.counters()["status_gets"] >= 1
