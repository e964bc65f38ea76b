"""
Two ways to update more leads than one call takes.

- ``leads_mass_update_job_mode``: Zoho updates every lead of a custom view as a background job (up to
  50,000 records); the task schedules it, then defers to the triggerer, which only polls its status.
  Zoho reports counts only, so there are no per-record results. The view id is the emulator's default
  Leads view; use your own from Zoho CRM's custom views.
- ``leads_mass_update_mapped``: the staged candidates split into chunks (Param ``chunk_size``), one
  mapped task per chunk; the ``zoho_crm`` pool bounds the Zoho calls of all chunks together. A chunk
  in which nothing could be updated is skipped, and its log says why in the first lines.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

import pendulum
from airflow.sdk import DAG, BaseHook, Param, task
from leads_common import CANDIDATES, POOL, RETRIES, STAGING, ZOHO_LEADS, report

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.definitions.xcom_arg import PlainXComArg

log = logging.getLogger(__name__)

LEADS_VIEW = "738964000000087501"
START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG(
    dag_id="leads_mass_update_job_mode",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["zoho_crm", "example"],
    doc_md=__doc__,
) as job_mode_dag:
    LeadsMassUpdateOperator(
        task_id="update_view",
        data={"Rating": "Hot"},
        cvid=LEADS_VIEW,
        deferrable=True,  # waits in the triggerer, not on a worker slot
        poll_interval=5,
        timeout=3 * 60 * 60,
        max_failed_records=10,  # Zoho reports counts only in job mode; tolerate a few failures
        pool=POOL,
        outlets=[ZOHO_LEADS],
        **RETRIES,
    )


@task
def select_chunks(**context: Any) -> list[list[str]]:
    """Return the staged candidate ids in chunks of ``params.chunk_size``, one mapped task each."""
    size = int(context["params"]["chunk_size"])
    rows = BaseHook.get_hook(STAGING).get_records(f"SELECT lead_id FROM {CANDIDATES} ORDER BY lead_id")  # noqa: S608 (constant)
    ids = [str(row[0]) for row in rows]
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    log.info("%d lead(s) in %d chunk(s) of up to %d", len(ids), len(chunks), size)
    return chunks


with DAG(
    dag_id="leads_mass_update_mapped",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["zoho_crm", "example"],
    doc_md=__doc__,
    params={"chunk_size": Param(500, type="integer", minimum=1, maximum=500, title="Ids per chunk")},
) as mapped_dag:
    chunks = cast("PlainXComArg", select_chunks())
    updates = LeadsMassUpdateOperator.partial(
        task_id="update_chunk",
        data={"Industry": "Systems Integrator"},
        max_concurrency=2,
        max_skipped_ratio=0.5,
        locked_retries=1,
        locked_retry_delay=3.0,
        pool=POOL,
        pool_slots=2,  # = max_concurrency
        **RETRIES,
    ).expand(ids=chunks)
    updates >> report("update_chunk", requested=chunks).as_teardown(
        setups=cast("BaseOperator", chunks.operator)
    )
