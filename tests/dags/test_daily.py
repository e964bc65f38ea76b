"""``leads_mass_update_daily`` end to end (``dag.test()``) against the emulator and a SQLite staging DB."""

from __future__ import annotations

import pytest

from airflow_crm_provider.testing.emulator import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS
from tests.dags.conftest import states, xcom

pytestmark = pytest.mark.integration

OK_1, OK_2 = SEED_IDS
CHECKED = {"check_table": "success", "check_columns": "success", "select_batch": "success"}


def mass_update_posts(client):
    return [e for e in client.log() if e["method"] == "POST" and e["path"].endswith("/actions/mass_update")]


def test_daily_updates_the_staged_leads_and_reports_the_skipped(load_dags, zoho_emulator, staging):
    client = zoho_emulator.client
    dag_run = load_dags("leads_daily.py")["leads_mass_update_daily"].test()

    assert dag_run.state == "success"
    assert states(dag_run) == {**CHECKED, "update_leads": "success", "report": "success"}
    assert [client.record("Leads", i)["Lead_Status"] for i in (OK_1, OK_2)] == ["Contacted", "Contacted"]
    (post, *resends) = mass_update_posts(client)
    assert sorted(post["body"]["ids"]) == sorted([OK_1, OK_2, NOT_APPROVED_ID, LOCKED_ID])
    assert all(p["body"]["ids"] == [LOCKED_ID] for p in resends)  # only the locked one is re-sent
    assert client.counters()["records_changed"] == 2
    issues = staging.query(
        "SELECT dag_id, run_id, lead_id, outcome, code FROM lead_update_issues ORDER BY code"
    )
    assert issues == [
        ("leads_mass_update_daily", dag_run.run_id, NOT_APPROVED_ID, "skipped", "NOT_APPROVED"),
        ("leads_mass_update_daily", dag_run.run_id, LOCKED_ID, "skipped", "RECORD_LOCKED"),
    ]
    assert all(message for (message,) in staging.query("SELECT message FROM lead_update_issues"))
    assert xcom(dag_run, "report") == {
        "by_code": {"SUCCESS": 2, "NOT_APPROVED": 1, "RECORD_LOCKED": 1},
        "by_outcome": {"updated": 2, "skipped": 2},
        "issues": 2,
    }


BAD_BATCHES = {
    "no rows": ("check_table", "DELETE FROM lead_candidates", ()),
    "id not numeric": (
        "check_table",
        "UPDATE lead_candidates SET lead_id = ? WHERE lead_id = ?",
        ("7389x", OK_1),
    ),
    "id too long": (
        "check_table",
        "UPDATE lead_candidates SET lead_id = ? WHERE lead_id = ?",
        ("1" * 20, OK_1),
    ),
    "value not allowed": ("check_table", "UPDATE lead_candidates SET new_value = 'Hot'", ()),
    "id missing": ("check_columns", "UPDATE lead_candidates SET lead_id = NULL WHERE lead_id = ?", (OK_1,)),
    "id twice": ("check_columns", "INSERT INTO lead_candidates VALUES (?, 'Contacted')", (OK_2,)),
    "two values": (
        "check_columns",
        "UPDATE lead_candidates SET new_value = 'Junk Lead' WHERE lead_id = ?",
        (OK_1,),
    ),
}


@pytest.mark.parametrize("bad", BAD_BATCHES.values(), ids=BAD_BATCHES.keys())
def test_a_failed_check_stops_the_update_and_leaves_the_store_untouched(
    load_dags, zoho_emulator, staging, bad
):
    failing_check, sql, params = bad
    client = zoho_emulator.client
    staging.execute(sql, *params)
    before = client.records("Leads")

    dag_run = load_dags("leads_daily.py")["leads_mass_update_daily"].test()

    assert dag_run.state == "failed"
    task_states = states(dag_run)
    assert task_states[failing_check] == "failed"
    assert {k: task_states[k] for k in ("select_batch", "update_leads")} == {
        "select_batch": "upstream_failed",
        "update_leads": "upstream_failed",
    }
    assert task_states["report"] == "upstream_failed"  # its setup never ran: nothing to report
    assert client.records("Leads") == before
    assert [e for e in client.log() if "/crm/" in e["path"]] == []  # not one call to Zoho
    assert staging.query("SELECT COUNT(*) FROM lead_update_issues") == [(0,)]


def test_a_failed_update_fails_the_run_though_the_report_writes_its_rows(load_dags, zoho_emulator, staging):
    dag = load_dags("leads_daily.py")["leads_mass_update_daily"]
    dag.task_dict["update_leads"].error_policy = {"NOT_APPROVED": "fail"}  # one failed record fails the task

    dag_run = dag.test()

    assert dag_run.state == "failed"
    assert states(dag_run) == {**CHECKED, "update_leads": "failed", "report": "success"}
    assert staging.query("SELECT lead_id, outcome, code FROM lead_update_issues ORDER BY code") == [
        (NOT_APPROVED_ID, "failed", "NOT_APPROVED"),
        (LOCKED_ID, "skipped", "RECORD_LOCKED"),
    ]
    assert zoho_emulator.client.record("Leads", OK_1)["Lead_Status"] == "Contacted"  # what Zoho applied stays


class PulledRecords:
    """The ``ti`` of a report: ``xcom_pull`` answers with the given records."""

    def __init__(self, records):
        self.records = records

    def xcom_pull(self, *, task_ids, key):
        assert (task_ids, key) == ("update_leads", "records")
        return self.records


class Dag:
    dag_id = "d"


def test_a_retried_report_replaces_its_own_rows_only(staging):
    import leads_common

    insert = "INSERT INTO lead_update_issues VALUES ('d', ?, ?, 'skipped', 'STALE', 'an earlier try')"
    staging.execute(insert, "this-run", "1")
    staging.execute(insert, "other-run", "2")
    records = [
        {"id": "3", "outcome": "failed", "code": "INVALID_DATA", "message": "invalid data"},
        {"id": "4", "outcome": "updated", "code": "SUCCESS", "message": "record updated"},
    ]

    counts = leads_common.report.function(ti=PulledRecords(records), run_id="this-run", dag=Dag())

    assert staging.query("SELECT run_id, lead_id, code FROM lead_update_issues ORDER BY lead_id") == [
        ("other-run", "2", "STALE"),
        ("this-run", "3", "INVALID_DATA"),
    ]
    assert counts == {
        "by_code": {"INVALID_DATA": 1, "SUCCESS": 1},
        "by_outcome": {"failed": 1, "updated": 1},
        "issues": 1,
    }


@pytest.mark.parametrize(
    "requested",
    [["10", "11", "12"], "10\n11, 12", [["10", "11"], ["12"]]],
    ids=["batch", "form", "chunks"],
)
def test_a_lost_update_is_reported_unknown_not_as_no_issues(staging, requested):
    import leads_common

    # the update's last try died with its worker: no records were pushed, one id was reported
    # by another (mapped) instance
    pulled = [None, [{"id": "11", "outcome": "updated", "code": "SUCCESS", "message": "record updated"}]]
    counts = leads_common.report.function(
        ti=PulledRecords(pulled), requested=requested, run_id="this-run", dag=Dag()
    )

    assert counts == {
        "by_code": {"SUCCESS": 1, "NOT_REPORTED": 2},
        "by_outcome": {"updated": 1, "unknown": 2},
        "issues": 2,
    }
    rows = staging.query("SELECT lead_id, outcome, code, message FROM lead_update_issues ORDER BY lead_id")
    assert [r[:3] for r in rows] == [("10", "unknown", "NOT_REPORTED"), ("12", "unknown", "NOT_REPORTED")]
    assert "may or may not have been applied" in rows[0][3]


def test_every_zoho_task_retries_a_lost_try(load_dags):
    from leads_common import RETRIES

    zoho_tasks = 0
    for file_name in ("leads_daily.py", "leads_on_demand.py", "leads_at_scale.py", "leads_undo.py"):
        for dag in load_dags(file_name).values():
            for task in dag.tasks:
                if "MassUpdate" in task.task_type:
                    zoho_tasks += 1
                    retries = (
                        task.partial_kwargs["retries"] if hasattr(task, "partial_kwargs") else task.retries
                    )
                    assert retries == RETRIES["retries"], (dag.dag_id, task.task_id)
    assert zoho_tasks == 6
