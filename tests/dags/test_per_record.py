"""``leads_update_records_daily`` end to end (``dag.test()``) against the emulator and a SQLite staging DB."""

from __future__ import annotations

import pytest

from airflow_crm_provider.testing.emulator import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS
from tests.dags.conftest import states, xcom

pytestmark = pytest.mark.integration

OK_1, OK_2 = SEED_IDS


def writes(client):
    return [e for e in client.log() if e["method"] in ("PUT", "POST") and "/crm/" in e["path"]]


def test_values_computed_in_sql_are_pushed_per_lead_and_failures_reported(load_dags, zoho_emulator, staging):
    client = zoho_emulator.client
    dag_run = load_dags("leads_per_record.py")["leads_update_records_daily"].test()

    assert dag_run.state == "success"
    assert states(dag_run) == {
        "check_table": "success",
        "check_columns": "success",
        "score_leads": "success",
        "update_leads": "success",
        "report": "success",
    }
    zones = {i: f"Zone {i[-1]}" for i in (OK_1, OK_2)}
    assert {i: client.record("Leads", i)["Description"] for i in zones} == zones
    first, *resends = writes(client)
    assert (first["method"], first["path"]) == ("PUT", "/crm/v8/Leads")  # 4 leads: one Update Records call
    assert sorted(row["id"] for row in first["body"]["data"]) == sorted(
        [OK_1, OK_2, NOT_APPROVED_ID, LOCKED_ID]
    )
    assert all([row["id"] for row in w["body"]["data"]] == [LOCKED_ID] for w in resends)
    assert xcom(dag_run, "update_leads")["plan"] == {
        "mass_update_calls": 0,
        "update_calls": 1,
        "estimated_credits": 1,
        "optimize": "calls",
    }
    issues = staging.query("SELECT lead_id, outcome, code FROM lead_update_issues ORDER BY code")
    assert issues == [(NOT_APPROVED_ID, "skipped", "NOT_APPROVED"), (LOCKED_ID, "skipped", "RECORD_LOCKED")]


def test_a_failed_check_stops_the_run_before_any_zoho_call(load_dags, zoho_emulator, staging):
    staging.execute("UPDATE lead_candidates SET lead_id = '7389x' WHERE lead_id = ?", OK_1)

    dag_run = load_dags("leads_per_record.py")["leads_update_records_daily"].test()

    assert dag_run.state == "failed"
    assert states(dag_run)["check_table"] == "failed"
    assert writes(zoho_emulator.client) == []
