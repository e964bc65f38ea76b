"""The composed pair: ``leads_stage_candidates`` updates the asset scheduling the checked update."""

from __future__ import annotations

import pytest

from airflow_crm_provider.testing.emulator import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS
from tests.dags.conftest import states, xcom

pytestmark = pytest.mark.integration


def asset_events(name: str):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent.source_dag_id, AssetEvent.source_run_id)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == name)
        )
        return list(session.execute(query).all())


def test_staging_updates_the_asset_that_schedules_the_checked_update(load_dags, zoho_emulator, staging):
    dags = load_dags("leads_composed.py")
    upstream, downstream = dags["leads_stage_candidates"], dags["leads_mass_update_on_asset"]
    assert [a.name for a in downstream.schedule] == ["qualified_leads"]
    assert [o.name for o in downstream.task_dict["update_leads"].outlets] == ["zoho_crm_leads"]

    staged = upstream.test()
    assert (staged.state, states(staged)) == ("success", {"stage": "success"})
    assert ("leads_stage_candidates", staged.run_id) in asset_events("qualified_leads")
    assert staging.query("SELECT COUNT(*), MIN(new_value), MAX(new_value) FROM qualified_leads") == [
        (4, "Trade Show", "Trade Show")
    ]

    updated = downstream.test()
    assert updated.state == "success"
    assert set(states(updated).values()) == {"success"}
    client = zoho_emulator.client
    assert [client.record("Leads", i)["Lead_Source"] for i in SEED_IDS] == ["Trade Show", "Trade Show"]
    assert client.counters()["records_changed"] == 2
    assert ("leads_mass_update_on_asset", updated.run_id) in asset_events("zoho_crm_leads")
    assert xcom(updated, "report")["by_code"] == {"SUCCESS": 2, "NOT_APPROVED": 1, "RECORD_LOCKED": 1}
    assert {r[0] for r in staging.query("SELECT lead_id FROM lead_update_issues")} == {
        NOT_APPROVED_ID,
        LOCKED_ID,
    }


def test_the_downstream_checks_what_was_staged(load_dags, zoho_emulator, staging):
    """Nothing staged yet (the upstream never ran): the checks fail and Zoho is not called."""
    dag_run = load_dags("leads_composed.py")["leads_mass_update_on_asset"].test()

    assert dag_run.state == "failed"
    assert states(dag_run)["check_table"] == "failed"
    assert states(dag_run)["update_leads"] == "upstream_failed"
    assert zoho_emulator.client.counters()["mass_update_posts"] == 0
