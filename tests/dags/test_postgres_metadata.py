"""The daily pipeline on PostgreSQL (metadata and staging DB), as deployments run it (CI has one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DAGS = Path(__file__).parents[2] / "dags"
LOCKED = "475243000003269880"
SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}


@pytest.fixture
def postgres_db() -> Any:
    """Create a throwaway database on the local PostgreSQL server; skip if there is none."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(connect_timeout=3, **SERVER)
    except psycopg2.OperationalError as err:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432 as user postgres ({err}); CI has it")
    admin.autocommit = True
    name = f"airflow_crm_provider_{os.getpid()}"
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_daily_pipeline_on_postgres_metadata_and_staging(
    postgres_db, zoho_crm_conn, zoho_emulator, tmp_path
) -> None:
    """``airflow dags test`` of the daily DAG; the seed command stages its leads in PostgreSQL."""
    import psycopg2

    staging = {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": 5432,
        "login": "postgres",
        "schema": postgres_db,
    }
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{postgres_db}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW_CONN_LEADS_STAGING": json.dumps(staging),
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    subprocess.run(
        [airflow, "pools", "set", "zoho_crm", "4", "Zoho CRM"], env=env, check=True, capture_output=True
    )
    seed = [sys.executable, "-m", "airflow_crm_provider.testing.staging"]
    seeded = subprocess.run(seed, env=env, check=True, capture_output=True, text=True, timeout=120)
    assert "staged 4 lead candidates in leads_staging.lead_candidates" in seeded.stdout
    # the locked lead unlocks after one attempt, so the run waits one re-send delay, not two
    zoho_emulator.client.seed("Leads", ids=[LOCKED], locked=[LOCKED], locked_for=1)
    run = subprocess.run(
        [airflow, "dags", "test", "leads_mass_update_daily"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    with psycopg2.connect(**{**SERVER, "dbname": postgres_db}) as db, db.cursor() as cur:
        cur.execute(
            "SELECT key, value FROM xcom WHERE dag_id = %s AND task_id = %s AND key IN %s",
            ("leads_mass_update_daily", "update_leads", ("return_value", "records")),
        )
        pushed = {
            key: value if not isinstance(value, str) else json.loads(value) for key, value in cur.fetchall()
        }
        cur.execute("SELECT lead_id, outcome, code FROM lead_update_issues")
        issues = cur.fetchall()
        cur.execute("SELECT state FROM dag_run WHERE dag_id = 'leads_mass_update_daily'")
        assert cur.fetchall() == [("success",)]
    records = {r["id"]: r for r in pushed["records"]}
    assert {r["outcome"] for r in records.values()} == {"updated", "skipped"}
    assert records["738964000002131001"]["code"] == "SUCCESS"
    assert records["1306462000000496025"]["code"] == "NOT_APPROVED"
    summary = pushed["return_value"]
    assert records[LOCKED]["code"] == "SUCCESS"  # RECORD_LOCKED first, updated on the re-send
    assert (summary["requested"], summary["updated"], summary["outcome"]) == (4, 3, "success")
    assert issues == [("1306462000000496025", "skipped", "NOT_APPROVED")]
    assert zoho_emulator.client.record("Leads", "738964000002131001")["Lead_Status"] == "Contacted"
