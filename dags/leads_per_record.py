"""
``leads_update_records_daily``: every day, set a value per lead, computed in SQL, on the staged leads.

Staging table (connection ``leads_staging``) -> ``check_table`` / ``check_columns`` (common-sql: rows
present; ids present, numeric and unique) -> ``score_leads`` (SQL computes each lead's ``Description`` into
``lead_scores``) -> ``update_leads`` (``LeadsUpdateRecordsOperator`` reads ``lead_scores`` through
common-sql; leads sharing a value go as mass updates, the rest as Update Records, whichever takes fewer
calls) -> ``report``: failed and skipped records, with Zoho's code and message, go to
``lead_update_issues``. A failed check stops the run before any Zoho call; the run fails when the
update fails, even though the report (a teardown) still runs.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import (
    SQLColumnCheckOperator,
    SQLExecuteQueryOperator,
    SQLTableCheckOperator,
)
from airflow.sdk import DAG
from leads_common import CANDIDATES, POOL, RETRIES, STAGING, report

from airflow_crm_provider.operators.update_records import LeadsUpdateRecordsOperator

SCORES = "lead_scores"
#: Each lead's value, computed in SQL (here: a sales zone from the id's last digit; SQLite and PostgreSQL).
SCORE_SQL = [
    f"DROP TABLE IF EXISTS {SCORES}",
    f"CREATE TABLE {SCORES} AS SELECT lead_id, 'Zone ' || SUBSTR(lead_id, LENGTH(lead_id), 1) AS zone "  # noqa: S608
    f"FROM {CANDIDATES}",
]
#: The rows to push: ``id`` and the field API names as columns, in a stable order (a retry plans alike).
ROWS_SQL = f'SELECT lead_id AS id, zone AS "Description" FROM {SCORES} ORDER BY lead_id'  # noqa: S608

with DAG(
    dag_id="leads_update_records_daily",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["zoho_crm", "example"],
    doc_md=__doc__,
) as per_record_dag:
    check_table = SQLTableCheckOperator(
        task_id="check_table",
        conn_id=STAGING,
        table=CANDIDATES,
        checks={
            "rows_present": {"check_statement": "COUNT(*) >= 1"},
            "ids_numeric": {
                "check_statement": "LENGTH(lead_id) BETWEEN 1 AND 19 AND TRIM(lead_id, '0123456789') = ''"
            },
        },
    )
    check_columns = SQLColumnCheckOperator(
        task_id="check_columns",
        conn_id=STAGING,
        table=CANDIDATES,
        column_mapping={"lead_id": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}}},
    )
    score = SQLExecuteQueryOperator(task_id="score_leads", conn_id=STAGING, sql=SCORE_SQL)
    update = LeadsUpdateRecordsOperator(
        task_id="update_leads",
        sql=ROWS_SQL,
        conn_id=STAGING,
        mass_update_blocked_fields=["Description"],  # Zoho's mass update refuses multi-line fields
        max_skipped_ratio=0.5,  # skip (soft-fail) when more than half the leads could not be updated
        locked_retries=2,  # RECORD_LOCKED: re-send twice, about 1 s then 2 s later
        locked_retry_delay=1.0,
        pool=POOL,
        pool_slots=4,  # = max_concurrency (default 4)
        **RETRIES,
    )
    [check_table, check_columns] >> score >> update >> report().as_teardown(setups=score)
