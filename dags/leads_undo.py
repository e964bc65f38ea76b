"""
``leads_mass_update_all_or_nothing``: update a staged batch of leads, and undo it unless every lead took it.

``select_batch`` -> ``update_leads`` (``snapshot=True``: each lead's ``Country`` is read and kept
before the first write; ``skip_unchanged=True``: leads that already hold it are not sent) ->
``all_updated`` (fails when any lead was skipped or failed, also when the update itself failed) ->
only then ``revert_batch`` (every lead back to its prior value; a lead someone changed since is
left alone and reported ``CHANGED_SINCE``) -> ``fail_after_revert`` (ends the run ``failed``,
saying the batch was reverted). When every lead took the update, the last two are skipped and the
run succeeds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pendulum
from airflow.sdk import DAG, task
from leads_common import CANDIDATES, POOL, RETRIES, select_batch

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from airflow_crm_provider.operators.revert import LeadsRevertMassUpdateOperator
from airflow_crm_provider.version_compat import AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk.definitions.xcom_arg import PlainXComArg


@task(trigger_rule="all_done")
def all_updated(**context: Any) -> None:
    """Fail unless every requested lead now holds the value (updated, or already held it)."""
    summary = context["ti"].xcom_pull(task_ids="update_leads")
    if not summary:
        raise AirflowFailException("update_leads pushed no summary: treat the batch as not applied")
    held = summary["updated"] + summary["unchanged"]
    if held < summary["requested"]:
        raise AirflowFailException(
            f"{summary['requested'] - held} of {summary['requested']} lead(s) did not take the update "
            f"({summary['by_code']}): reverting the batch"
        )


@task
def fail_after_revert(**context: Any) -> None:
    """End the run red once the batch is reverted, so nobody mistakes the recovery for success."""
    summary = context["ti"].xcom_pull(task_ids="revert_batch")
    raise AirflowFailException(
        f"the batch was reverted: {summary['updated']} lead(s) restored, {summary['skipped']} left "
        f"alone (changed since), {summary['unchanged']} already back"
    )


with DAG(
    dag_id="leads_mass_update_all_or_nothing",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["zoho_crm", "example"],
    doc_md=__doc__,
) as undo_dag:
    batch = cast("PlainXComArg", select_batch(CANDIDATES, "Country"))
    update = LeadsMassUpdateOperator(
        task_id="update_leads",
        ids=batch["ids"],
        data={"Country": "Portugal"},
        snapshot=True,
        skip_unchanged=True,
        locked_retries=1,
        locked_retry_delay=3.0,
        pool=POOL,
        pool_slots=4,  # = max_concurrency (default 4)
        **RETRIES,
    )
    revert = LeadsRevertMassUpdateOperator(
        task_id="revert_batch",
        source_task_id="update_leads",
        trigger_rule="one_failed",
        pool=POOL,
        pool_slots=4,
        **RETRIES,
    )
    update >> all_updated() >> revert >> fail_after_revert()
