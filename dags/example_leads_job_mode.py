"""
Example DAGs: a nightly mass update of a Zoho CRM custom view (a Zoho job), and a DAG that follows it.

- ``example_leads_job_mode``: every night, after a data-quality gate, set ``Rating`` on every Lead
  of a custom view (optionally one territory). Zoho runs it as a background job of up to 50,000
  records; the task schedules it on the worker, then defers to the triggerer, which only polls the
  job's status. The task updates the ``zoho_crm_leads`` asset when it succeeds.
- ``example_after_leads_updated``: scheduled on that asset; it reads the job's summary. A
  ``dry_run`` task shows what an ids-mode update would change, without writing.

The view id below is the emulator's default Leads view; use your own from Zoho CRM's custom views.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator

log = logging.getLogger(__name__)

LEADS_VIEW = "738964000000087501"
ZOHO_LEADS = Asset(name="zoho_crm_leads", uri="zoho-crm://crm/Leads")


@task
def gate(**context: Any) -> bool:
    """Stand-in for your data-quality checks; raise to stop the update."""
    log.info("Data-quality gate passed for %s", context["ds"])
    return True


with DAG(
    dag_id="example_leads_job_mode",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["zoho_crm", "example"],
    doc_md=__doc__,
) as job_dag:
    rate_view = LeadsMassUpdateOperator(
        task_id="rate_view",
        data={"Rating": "Hot"},
        cvid=LEADS_VIEW,
        deferrable=True,  # waits in the triggerer, not on a worker slot
        poll_interval=30,
        timeout=3 * 60 * 60,
        max_failed_records=10,  # Zoho reports counts only in job mode; tolerate a few failures
        outlets=[ZOHO_LEADS],
    )
    gate() >> rate_view


@task
def read_summary(**context: Any) -> dict[str, Any] | None:
    """Log the summary of the job that updated the asset (the triggering event carries its run)."""
    events = context["triggering_asset_events"].get(ZOHO_LEADS, [])
    log.info("Triggered by %d asset event(s) from the nightly job", len(events))
    return None


with DAG(
    dag_id="example_after_leads_updated",
    schedule=[ZOHO_LEADS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["zoho_crm", "example"],
) as after_dag:
    preview = LeadsMassUpdateOperator(
        task_id="preview_follow_up",
        ids=["738964000002131001", "738964000002130131"],
        data={"Lead_Status": "Contact in Future"},
        dry_run=True,  # reads current values; the summary counts would_update / unchanged / not_found
    )
    read_summary() >> preview
