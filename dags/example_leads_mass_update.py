"""
Example DAGs: set one field on many Zoho CRM Leads after your own data-quality check.

- ``example_leads_mass_update``: an upstream task checks candidate rows and returns the lead ids that
  pass; ``LeadsMassUpdateOperator`` reads them from that task's XCom through a Jinja template; a
  report task (``all_done``) reads the summary and the per-record results whichever way it ended.
- ``example_leads_mass_update_mapped``: the same ids split into chunks, one mapped task per chunk
  (``.partial().expand(ids=...)`` over an upstream ``XComArg``), Zoho calls bounded across tasks by a pool.
- ``example_leads_mass_update_ui``: trigger from the UI with the ids, the field and the value as params.

The ``zoho_crm_default`` connection must exist (``AIRFLOW_CONN_ZOHO_CRM_DEFAULT``; the emulator in
``airflow_crm_provider.testing`` serves the lead ids below). The ``zoho_crm`` pool counts Zoho calls
in flight: each task takes ``pool_slots`` equal to its ``max_concurrency``. Create it once with
``airflow pools set zoho_crm 8 "Zoho CRM concurrent calls"``.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, TriggerRule, task

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator

#: What a warehouse query would return: candidate leads for the update.
CANDIDATES: list[dict[str, Any]] = [
    {"lead_id": "738964000002131001", "email": "patricia@example.com", "employees": 1200},
    {"lead_id": "738964000002130131", "email": "kris@example.com", "employees": 5400},
    {"lead_id": "1306462000000496025", "email": "lee@example.com", "employees": 2500},  # not approved
    {"lead_id": "475243000003269880", "email": "sam@example.com", "employees": 3100},  # locked in Zoho
    {"lead_id": "not-an-id", "email": "bad@example.com", "employees": 9000},  # fails the check
    {"lead_id": "738964000002131002", "email": None, "employees": 4000},  # fails the check
    {"lead_id": "738964000002131003", "email": "small@example.com", "employees": 12},  # filtered out
]
log = logging.getLogger(__name__)

PROFILE = {"Lead_Status": "Contacted"}
START = pendulum.datetime(2026, 1, 1, tz="UTC")


def passing_ids(min_employees: int = 1000) -> list[str]:
    """Data-quality check: keep candidates with a numeric id, an email and enough employees."""
    return [
        row["lead_id"]
        for row in CANDIDATES
        if str(row["lead_id"]).isdigit() and row["email"] and row["employees"] >= min_employees
    ]


@task
def select_leads() -> list[str]:
    """Return the lead ids that pass the data-quality check."""
    return passing_ids()


@task
def select_lead_chunks(size: int = 2) -> list[list[str]]:
    """Return the passing ids in chunks, one mapped task each (up to 500 per chunk in real DAGs)."""
    ids = passing_ids()
    return [ids[i : i + size] for i in range(0, len(ids), size)]


@task(trigger_rule=TriggerRule.ALL_DONE)
def report(update_task_id: str, **context: Any) -> dict[str, int]:
    """Read the summary and the per-record results; runs also when the update failed or skipped."""
    ti = context["ti"]
    summary = ti.xcom_pull(task_ids=update_task_id)
    records = ti.xcom_pull(task_ids=update_task_id, key="records") or []
    if isinstance(summary, list):  # mapped: one summary per chunk
        summaries, records = summary, [r for chunk in records for r in chunk or []]
    else:
        summaries = [summary] if summary else []
    outcomes: dict[str, int] = {}
    for record in records:
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
    log.info("Outcomes: %s; records by outcome: %s", [s["outcome"] for s in summaries], outcomes)
    return outcomes


with DAG(
    dag_id="example_leads_mass_update",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["zoho_crm", "example"],
    doc_md=__doc__,
) as from_upstream_dag:
    leads = select_leads()
    update = LeadsMassUpdateOperator(
        task_id="set_lead_status",
        data=PROFILE,
        ids="{{ ti.xcom_pull(task_ids='select_leads') }}",
        max_skipped_ratio=0.5,  # soft-fail (skip) when more than half the leads could not be updated
        locked_retries=2,  # RECORD_LOCKED (e.g. Zia processing): re-send twice, about 3 s then 6 s later
        locked_retry_delay=3.0,
        pool="zoho_crm",
        pool_slots=4,  # max_concurrency defaults to 4
    )
    leads >> update >> report("set_lead_status")


with DAG(
    dag_id="example_leads_mass_update_mapped",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["zoho_crm", "example"],
) as mapped_dag:
    updates = LeadsMassUpdateOperator.partial(
        task_id="set_lead_status",
        data=PROFILE,
        max_concurrency=2,
        max_skipped_ratio=0.5,
        pool="zoho_crm",
        pool_slots=2,
    ).expand(ids=select_lead_chunks())
    updates >> report("set_lead_status")


with DAG(
    dag_id="example_leads_mass_update_ui",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["zoho_crm", "example"],
    params={
        "ids": Param(
            "738964000002131001\n738964000002130131",
            type="string",
            title="Lead ids",
            description="One id per line, or comma-separated.",
        ),
        "field": Param(
            "Lead_Status",
            type="string",
            enum=["Lead_Status", "Lead_Source", "Rating", "Industry", "City", "Country"],
            title="Field to set",
        ),
        "value": Param("Contacted", type="string", title="Value"),
    },
) as ui_dag:
    ui_update = LeadsMassUpdateOperator(
        task_id="set_field",
        data="{{ {params.field: params.value} | tojson }}",
        ids="{{ params.ids }}",
        pool="zoho_crm",
        pool_slots=4,
    )
    ui_update >> report("set_field")
