"""A large ``snapshot`` through Airflow's object-storage XCom backend, read back by the revert."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_crm_provider.testing.emulator import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS

pytestmark = pytest.mark.integration

DAGS = Path(__file__).parents[2] / "dags"
ALL = [*SEED_IDS, NOT_APPROVED_ID, LOCKED_ID]


def test_the_snapshot_goes_to_object_storage_and_the_revert_reads_it(zoho_crm_conn, zoho_emulator, tmp_path):
    pytest.importorskip("airflow.providers.common.io.xcom.backend")
    client = zoho_emulator.client
    before = {i: client.record("Leads", i).get("Country") for i in ALL}
    store = tmp_path / "xcom-store"
    store.mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW_CONN_LEADS_STAGING": json.dumps(
            {"conn_type": "sqlite", "host": str(tmp_path / "staging.db")}
        ),
        # what a deployment sets: XComs past the threshold (bytes) go to the path, the DB keeps a reference
        "AIRFLOW__CORE__XCOM_BACKEND": "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": f"file://{store}",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "64",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    subprocess.run(
        [airflow, "pools", "set", "zoho_crm", "4", "Zoho CRM"], env=env, check=True, capture_output=True
    )
    seed = [sys.executable, "-m", "airflow_crm_provider.testing.staging"]
    subprocess.run(seed, env=env, check=True, capture_output=True, text=True, timeout=120)

    run = subprocess.run(
        [airflow, "dags", "test", "leads_mass_update_all_or_nothing"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = run.stdout[-3000:] + run.stderr[-3000:]
    with sqlite3.connect(tmp_path / "airflow.db") as db:
        states = dict(db.execute("SELECT task_id, state FROM task_instance"))
        (reference,) = db.execute(
            "SELECT value FROM xcom WHERE task_id = 'update_leads' AND key = 'snapshot'"
        ).fetchone()
    assert states == {
        "select_batch": "success",
        "update_leads": "success",
        "all_updated": "failed",
        "revert_batch": "success",
        "fail_after_revert": "failed",
    }, output
    # the metadata DB holds a path into the store, not the snapshot itself
    assert str(store) in json.loads(reference)
    files = [p for p in store.rglob("*") if p.is_file()]
    assert files, "nothing was written to the object store"
    assert {i: client.record("Leads", i).get("Country") for i in ALL} == before  # restored from it
