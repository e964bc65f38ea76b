"""
A composed pair: ``leads_stage_candidates`` stages leads and updates an asset; the asset schedules
``leads_mass_update_on_asset``, which checks them and sets ``Lead_Source``.

- ``leads_stage_candidates``: copies ``lead_candidates`` into ``qualified_leads`` with the new
  ``Lead_Source`` (stand-in for your own qualification step) and updates the ``qualified_leads`` asset.
- ``leads_mass_update_on_asset``: runs whenever that asset is updated: the same checks, selection,
  update and report as ``leads_mass_update_daily``; the update task declares the Zoho CRM Leads module
  as its outlet asset, so pipelines downstream of the CRM can be scheduled on it in turn.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG
from leads_common import (
    CANDIDATES,
    LEAD_SOURCES,
    QUALIFIED,
    QUALIFIED_LEADS,
    STAGING,
    ZOHO_LEADS,
    checked_mass_update,
)

START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG(
    dag_id="leads_stage_candidates",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["zoho_crm", "example"],
    doc_md=__doc__,
) as stage_dag:
    SQLExecuteQueryOperator(
        task_id="stage",
        conn_id=STAGING,
        sql=[
            f"DELETE FROM {QUALIFIED}",  # noqa: S608 (constants)
            f"INSERT INTO {QUALIFIED} (lead_id, new_value) SELECT lead_id, 'Trade Show' FROM {CANDIDATES}",  # noqa: S608
        ],
        outlets=[QUALIFIED_LEADS],
    )

with DAG(
    dag_id="leads_mass_update_on_asset",
    schedule=[QUALIFIED_LEADS],
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=["zoho_crm", "example"],
    doc_md=__doc__,
) as on_asset_dag:
    checked_mass_update(table=QUALIFIED, field="Lead_Source", allowed=LEAD_SOURCES, outlets=[ZOHO_LEADS])
