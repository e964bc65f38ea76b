"""``leads_mass_update_all_or_nothing``: a run, a check that fails, and the revert as its recovery path."""

from __future__ import annotations

import pytest

from airflow_crm_provider.testing.emulator import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS
from tests.dags.conftest import states, xcom

pytestmark = pytest.mark.integration

ALL = [*SEED_IDS, NOT_APPROVED_ID, LOCKED_ID]


def countries(client) -> dict[str, object]:
    return {i: client.record("Leads", i).get("Country") for i in ALL}


def test_a_batch_not_every_lead_took_is_reverted_and_the_run_says_so(load_dags, zoho_emulator, staging):
    client = zoho_emulator.client
    before = countries(client)
    assert "Portugal" not in before.values()

    dag_run = load_dags("leads_undo.py")["leads_mass_update_all_or_nothing"].test()

    assert dag_run.state == "failed"
    assert states(dag_run) == {
        "select_batch": "success",
        "update_leads": "success",  # 2 updated, 2 skipped: within max_skipped_ratio
        "all_updated": "failed",
        "revert_batch": "success",
        "fail_after_revert": "failed",
    }
    assert countries(client) == before  # the store after equals the store before
    snapshot = xcom(dag_run, "update_leads", "snapshot")
    assert snapshot == {i: {"Country": before[i]} for i in ALL}
    reverted = {r["id"]: r["code"] for r in xcom(dag_run, "revert_batch", "records")}
    assert reverted == {
        SEED_IDS[0]: "SUCCESS",
        SEED_IDS[1]: "SUCCESS",
        NOT_APPROVED_ID: "UNCHANGED",
        LOCKED_ID: "UNCHANGED",
    }


def test_a_batch_every_lead_took_stays(load_dags, zoho_emulator, staging):
    staging.execute("DELETE FROM lead_candidates WHERE lead_id IN (?, ?)", NOT_APPROVED_ID, LOCKED_ID)

    dag_run = load_dags("leads_undo.py")["leads_mass_update_all_or_nothing"].test()

    assert dag_run.state == "success"
    assert states(dag_run) == {
        "select_batch": "success",
        "update_leads": "success",
        "all_updated": "success",
        "revert_batch": "skipped",
        "fail_after_revert": "skipped",
    }
    assert [zoho_emulator.client.record("Leads", i)["Country"] for i in SEED_IDS] == ["Portugal", "Portugal"]
