"""A worker that dies mid-update, in a real DAG run: the retry sends no chunk twice (Airflow 3.3+)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.testing.emulator import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS
from airflow_crm_provider.version_compat import AIRFLOW_V_3_3_PLUS
from tests.dags.conftest import states, xcom

pytestmark = pytest.mark.integration

OK_1, OK_2 = SEED_IDS
IDS = [OK_1, OK_2, NOT_APPROVED_ID, LOCKED_ID]


def posted_ids(client) -> Counter:
    posts = [e for e in client.log() if e["method"] == "POST" and e["path"].endswith("/actions/mass_update")]
    return Counter(i for p in posts for i in p["body"]["ids"])


def run_with_crash(load_dags, monkeypatch, crash_at: int = 3):
    """Run the on-demand DAG over IDS one id per call; the worker dies before Zoho call ``crash_at``."""
    dag = load_dags("leads_on_demand.py")["leads_mass_update_on_demand"]
    task = dag.task_dict["update_leads"]
    task.retries, task.retry_delay = 1, timedelta(0)
    task.batch_size, task.max_concurrency, task.locked_retries = 1, 1, 1
    real, calls = ZohoCRMHook.mass_update, {"n": 0}

    def mass_update(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == crash_at:
            raise SystemExit("worker died")  # bypasses the operator's own handling, like a crash
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ZohoCRMHook, "mass_update", mass_update)
    return dag.test(run_conf={"ids": "\n".join(IDS), "field": "Lead_Status", "value": "Contacted"})


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="task_state_store (crash recovery) needs Airflow 3.3+")
def test_retry_after_crash_applies_no_chunk_twice(load_dags, zoho_emulator, staging, monkeypatch):
    dag_run = run_with_crash(load_dags, monkeypatch)

    (ti,) = [t for t in dag_run.get_task_instances() if t.task_id == "update_leads"]
    assert (ti.state, ti.try_number) == ("success", 2)
    assert states(dag_run)["report"] == "success"
    # LOCKED: sent, then its one re-send
    assert posted_ids(zoho_emulator.client) == {OK_1: 1, OK_2: 1, NOT_APPROVED_ID: 1, LOCKED_ID: 2}
    records = xcom(dag_run, "update_leads", "records")
    assert [r["id"] for r in records] == IDS
    assert [r["message"] for r in records[:2]] == ["record updated (in an earlier try)"] * 2
    assert xcom(dag_run, "update_leads")["updated"] == 2


@pytest.mark.skipif(AIRFLOW_V_3_3_PLUS, reason="Airflow 3.3+ resumes from task_state_store instead")
def test_retry_after_crash_resends_everything_before_3_3(load_dags, zoho_emulator, staging, monkeypatch):
    dag_run = run_with_crash(load_dags, monkeypatch)

    assert states(dag_run)["update_leads"] == "success"
    posted = posted_ids(zoho_emulator.client)
    assert (posted[OK_1], posted[OK_2]) == (2, 2)
