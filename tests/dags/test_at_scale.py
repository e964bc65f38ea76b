"""Job mode over a custom view (deferrable) and the mapped variant over chunks, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID, LOCKED_ID, NOT_APPROVED_ID, SEED_IDS
from tests.dags.conftest import states, xcom

pytestmark = pytest.mark.integration


def test_job_mode_updates_the_view_in_the_triggerer(load_dags, zoho_emulator, staging):
    client = zoho_emulator.client
    client.configure(job_duration=0.3)
    view = client.records("Leads").keys() - {NOT_APPROVED_ID, LOCKED_ID}

    dag_run = load_dags("leads_at_scale.py")["leads_mass_update_job_mode"].test()

    assert (dag_run.state, states(dag_run)) == ("success", {"update_view": "success"})
    (job,) = client.jobs()
    assert job["Status"] == "COMPLETED"
    hot = {i for i, r in client.records("Leads").items() if r.get("Rating") == "Active"}
    assert hot == view  # the view: the two seed leads and the 20 generated ones
    assert len(hot) == 22
    summary = xcom(dag_run, "update_view")
    assert (summary["mode"], summary["job_status"], summary["outcome"]) == ("job", "COMPLETED", "success")
    assert client.counters()["status_gets"] >= 1
    assert LEADS_VIEW_ID in str(client.log())


def test_mapped_chunks_share_the_pool_and_a_hopeless_chunk_is_skipped(load_dags, zoho_emulator, staging):
    client = zoho_emulator.client
    dag_run = load_dags("leads_at_scale.py")["leads_mass_update_mapped"].test(run_conf={"chunk_size": 2})

    assert dag_run.state == "success"
    # ORDER BY lead_id: the NOT_APPROVED and the locked lead sort first, so they share chunk 0
    assert states(dag_run) == {
        "select_chunks": "success",
        "update_chunk[0]": "skipped",
        "update_chunk[1]": "success",
        "report": "success",
    }
    assert [client.record("Leads", i)["Industry"] for i in SEED_IDS] == ["Systems Integrator"] * 2
    assert client.counters()["records_changed"] == 2
    posts = [e for e in client.log() if e["method"] == "POST" and e["path"].endswith("/actions/mass_update")]
    assert sorted(tuple(sorted(p["body"]["ids"])) for p in posts if len(p["body"]["ids"]) == 2) == [
        tuple(sorted([NOT_APPROVED_ID, LOCKED_ID])),
        tuple(sorted(SEED_IDS)),
    ]
    assert xcom(dag_run, "report")["by_outcome"] == {"skipped": 2, "updated": 2}
    assert {r[0] for r in staging.query("SELECT lead_id FROM lead_update_issues")} == {
        NOT_APPROVED_ID,
        LOCKED_ID,
    }


def test_mapped_defaults_to_one_chunk(load_dags, zoho_emulator, staging):
    dag_run = load_dags("leads_at_scale.py")["leads_mass_update_mapped"].test()

    assert states(dag_run) == {"select_chunks": "success", "update_chunk[0]": "success", "report": "success"}
    assert xcom(dag_run, "select_chunks") == [sorted([*SEED_IDS, NOT_APPROVED_ID, LOCKED_ID])]


def lines_outside_groups(output: str) -> list[str]:
    """Return the log lines a reader sees without expanding a ``::group::`` (the UI collapses them)."""
    visible, depth = [], 0
    for line in output.splitlines():
        if "::group::" in line:
            depth += 1
        elif "::endgroup::" in line:
            depth = max(depth - 1, 0)
        elif depth == 0:
            visible.append(line)
    return visible


def test_a_skipped_chunk_says_why_outside_the_collapsed_groups(load_dags, zoho_emulator, staging):
    """The task log as Airflow writes it (``airflow dags test``): the reason is not only in a group."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    conf = json.dumps({"chunk_size": 2})
    run = subprocess.run(
        [airflow, "dags", "test", "leads_mass_update_mapped", "-c", conf],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    output = run.stdout + run.stderr

    reason = "skipped: no record was updated (2 skipped, 0 ignored)"
    visible = lines_outside_groups(output)
    first = next(i for i, line in enumerate(visible) if reason in line)
    # the reason comes first, then that chunk's report table
    assert "2 requested, 0 updated, 2 skipped" in "\n".join(visible[first:])
