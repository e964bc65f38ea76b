"""The example DAGs run for real (``dag.test()`` on a migrated SQLite DB) against the emulator."""

from __future__ import annotations

import importlib.util
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.version_compat import AIRFLOW_V_3_3_PLUS
from tests.operator.helpers import FAST_HOOK, LOCKED, NOT_APPROVED, OK_1, OK_2, mass_update_posts

pytestmark = pytest.mark.integration

DAG_FILE = Path(__file__).parents[2] / "dags" / "example_leads_mass_update.py"
SELECTED = [OK_1, OK_2, NOT_APPROVED, LOCKED]  # what the example's data-quality check lets through


@pytest.fixture
def example(airflow_db, zoho_crm_conn, emulator):
    """Load the example DAG file (fresh objects per test) with fast retry settings."""
    spec = importlib.util.spec_from_file_location("example_leads_mass_update_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = {dag.dag_id: dag for dag in vars(module).values() if type(dag).__name__ == "DAG"}
    for dag in dags.values():
        for task in dag.tasks:
            if task.task_id.startswith("set_"):
                fast = {"locked_retry_delay": 0, "hook_params": FAST_HOOK}
                if hasattr(task, "partial_kwargs"):  # mapped
                    task.partial_kwargs.update(fast)
                else:
                    for name, value in fast.items():
                        setattr(task, name, value)
    return dags


def xcoms(dag_run, task_id, key="return_value"):
    """Return ``{map_index: value}`` of one task's XCom in a DAG run."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
        return {row.map_index: XComModel.deserialize_value(row) for row in session.scalars(query)}


def states(dag_run):
    return {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances()}


def test_example_templated_from_upstream_xcom(example, emulator):
    dag_run = example["example_leads_mass_update"].test()

    assert dag_run.state == "success"
    assert states(dag_run) == {
        ("select_leads", -1): "success",
        ("set_lead_status", -1): "success",
        ("report", -1): "success",
    }
    summary = xcoms(dag_run, "set_lead_status")[-1]
    assert (summary["requested"], summary["updated"], summary["skipped"]) == (4, 2, 2)
    records = xcoms(dag_run, "set_lead_status", "records")[-1]
    assert [r["id"] for r in records] == SELECTED
    assert [r["outcome"] for r in records] == ["updated", "updated", "skipped", "skipped"]
    assert mass_update_posts(emulator)[0]["body"]["ids"] == SELECTED
    assert emulator.record("Leads", OK_1)["Lead_Status"] == "Contacted"
    assert xcoms(dag_run, "report")[-1] == {"updated": 2, "skipped": 2}


def test_example_mapped_over_chunks(example, emulator):
    dag_run = example["example_leads_mass_update_mapped"].test()

    assert states(dag_run) == {
        ("select_lead_chunks", -1): "success",
        ("set_lead_status", 0): "success",
        ("set_lead_status", 1): "skipped",  # NOT_APPROVED + locked: nothing updated in that chunk
        ("report", -1): "success",
    }
    summaries = xcoms(dag_run, "set_lead_status")
    assert summaries[0]["updated"] == 2
    assert summaries[1]["outcome"] == "skipped"
    assert [r["id"] for r in xcoms(dag_run, "set_lead_status", "records")[1]] == [NOT_APPROVED, LOCKED]
    assert xcoms(dag_run, "report")[-1] == {"updated": 2, "skipped": 2}
    chunks = {tuple(p["body"]["ids"]) for p in mass_update_posts(emulator) if len(p["body"]["ids"]) == 2}
    assert chunks == {(OK_1, OK_2), (NOT_APPROVED, LOCKED)}


def test_example_triggered_with_params(example, emulator):
    dag = example["example_leads_mass_update_ui"]
    dag_run = dag.test(run_conf={"ids": f"{OK_1}, {OK_2}", "field": "City", "value": "Lisbon"})

    assert states(dag_run)[("set_field", -1)] == "success"
    assert emulator.record("Leads", OK_2)["City"] == "Lisbon"
    assert xcoms(dag_run, "report")[-1] == {"updated": 2}


def _crash_before_call(monkeypatch, n):
    real = ZohoCRMHook.mass_update
    calls = {"n": 0}

    def mass_update(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise SystemExit("worker died")  # bypasses the operator's own handling, like a crash
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ZohoCRMHook, "mass_update", mass_update)


def _run_with_crash(example, monkeypatch):
    dag = example["example_leads_mass_update"]
    task = dag.task_dict["set_lead_status"]
    task.retries, task.retry_delay = 1, timedelta(0)
    task.batch_size, task.max_concurrency, task.locked_retries = 1, 1, 1
    _crash_before_call(monkeypatch, 3)
    return dag.test()


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="task_state_store (crash recovery) needs Airflow 3.3+")
def test_retry_after_crash_applies_no_chunk_twice(example, emulator, monkeypatch):
    dag_run = _run_with_crash(example, monkeypatch)

    (ti,) = [t for t in dag_run.get_task_instances() if t.task_id == "set_lead_status"]
    assert (ti.state, ti.try_number) == ("success", 2)
    posted = Counter(i for p in mass_update_posts(emulator) for i in p["body"]["ids"])
    assert posted == {OK_1: 1, OK_2: 1, NOT_APPROVED: 1, LOCKED: 2}  # LOCKED: sent, then its one re-send
    records = xcoms(dag_run, "set_lead_status", "records")[-1]
    assert [r["id"] for r in records] == SELECTED
    assert [r["message"] for r in records[:2]] == ["record updated (in an earlier try)"] * 2
    assert xcoms(dag_run, "set_lead_status")[-1]["updated"] == 2


@pytest.mark.skipif(AIRFLOW_V_3_3_PLUS, reason="Airflow 3.3+ resumes from task_state_store instead")
def test_retry_after_crash_resends_everything_before_3_3(example, emulator, monkeypatch):
    dag_run = _run_with_crash(example, monkeypatch)

    assert states(dag_run)[("set_lead_status", -1)] == "success"
    posted = Counter(i for p in mass_update_posts(emulator) for i in p["body"]["ids"])
    assert (posted[OK_1], posted[OK_2]) == (2, 2)
