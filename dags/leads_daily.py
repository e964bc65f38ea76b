"""
``leads_mass_update_daily``: every day, set ``Lead_Status`` on the leads staged in ``lead_candidates``.

Staging table (connection ``leads_staging``) -> ``check_table`` / ``check_columns`` (common-sql: rows
present; ids present, numeric and unique; one new value, and an allowed one) -> ``select_batch`` ->
``update_leads`` (``LeadsMassUpdateOperator``) -> ``report``: failed and skipped records, with Zoho's
code and message, go to ``lead_update_issues``. A failed check stops the run before any Zoho call;
the run fails when the update fails, even though the report (a teardown) still runs.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from leads_common import CANDIDATES, LEAD_STATUSES, checked_mass_update

with DAG(
    dag_id="leads_mass_update_daily",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["zoho_crm", "example"],
    doc_md=__doc__,
) as daily_dag:
    checked_mass_update(table=CANDIDATES, field="Lead_Status", allowed=LEAD_STATUSES)
