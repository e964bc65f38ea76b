"""
Building blocks of the example pipelines: the staging connection, the pool, the assets, the
checked mass update (data-quality checks -> select -> update -> report) and the report task.

Not a DAG file (``.airflowignore`` keeps the DAG processor from parsing it); the DAG files import it.
``dags/README.md`` is the contract these names follow.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.common.sql.operators.sql import SQLColumnCheckOperator, SQLTableCheckOperator
from airflow.sdk import Asset, BaseHook, task

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import BaseOperator
    from airflow.sdk.definitions.xcom_arg import PlainXComArg

log = logging.getLogger(__name__)

STAGING = "leads_staging"  # SQLite in the embedded default, PostgreSQL in docker-compose
POOL = "zoho_crm"  # Zoho calls in flight across all tasks
CANDIDATES, QUALIFIED, ISSUES = "lead_candidates", "qualified_leads", "lead_update_issues"
ZOHO_LEADS = Asset(name="zoho_crm_leads", uri="zoho-crm://crm/Leads")
QUALIFIED_LEADS = Asset(name="qualified_leads", uri="leads-staging://qualified_leads")
#: Zoho's default picklist values: a staged value outside them stops the update.
LEAD_STATUSES = (
    "Attempted to Contact",
    "Contact in Future",
    "Contacted",
    "Junk Lead",
    "Lost Lead",
    "Not Contacted",
    "Not Qualified",
    "Pre-Qualified",
)
LEAD_SOURCES = (
    "Advertisement",
    "Chat",
    "Cold Call",
    "Employee Referral",
    "External Referral",
    "Online Store",
    "Partner",
    "Public Relations",
    "Seminar Partner",
    "Trade Show",
    "Web Download",
    "Web Research",
)
#: Outcomes the report writes to the issues table (with Zoho's code and message).
ISSUE_OUTCOMES = ("failed", "skipped", "unknown")
#: Every Zoho task retries a lost try (its worker died, it was cut off): the next try resumes from
#: the task-state store and re-sends no chunk whose reply was recorded. A decided failure (too many
#: failed records, bad input) is never retried.
RETRIES: dict[str, Any] = {"retries": 2, "retry_delay": timedelta(seconds=10)}
#: The report's code for a requested id the update never reported (its last try was lost).
NOT_REPORTED = "NOT_REPORTED"


@task
def select_batch(table: str, field: str) -> dict[str, Any]:
    """Return the checked batch: ``ids`` and the ``data`` to set (one value, checks made sure)."""
    sql = f"SELECT lead_id, new_value FROM {table} ORDER BY lead_id"  # noqa: S608 (a DAG's constant)
    rows = BaseHook.get_hook(STAGING).get_records(sql)
    log.info("Selected %d lead(s) from %s to set %s = %r", len(rows), table, field, rows[0][1])
    return {"ids": [str(row[0]) for row in rows], "data": {field: rows[0][1]}}


def _flatten(pulled: Any) -> list[dict[str, Any]]:
    """Return the records of a task, or of every instance of a mapped task, as one list."""
    records: list[dict[str, Any]] = []
    for item in pulled or []:
        if isinstance(item, dict):
            records.append(item)
        else:  # one list per map index
            records.extend(item or [])
    return records


def _ids(requested: Any) -> list[str]:
    """Return the ids in ``requested``: the form's text, a list of ids, or a list of chunks."""
    if isinstance(requested, str):
        return re.findall(r"[0-9]+", requested)
    if isinstance(requested, int):
        return [str(requested)]
    if isinstance(requested, (list, tuple)):
        return [i for item in requested for i in _ids(item)]
    return []


def _unreported(update_task_id: str, requested: Any, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return an ``unknown`` record for each requested id that no record of the update covers."""
    reported = {str(r["id"]) for r in records}
    missing = [i for i in dict.fromkeys(_ids(requested)) if i not in reported]
    if missing:
        log.warning(
            "%s reported no outcome for %d of the requested lead(s): its last try was lost, so each may or "
            "may not have been applied (its task-state store lists the chunks Zoho answered)",
            update_task_id,
            len(missing),
        )
    message = f"{update_task_id} ended without reporting this lead: it may or may not have been applied"
    return [{"id": i, "outcome": "unknown", "code": NOT_REPORTED, "message": message} for i in missing]


@task
def report(update_task_id: str = "update_leads", requested: Any = None, **context: Any) -> dict[str, Any]:
    """
    Write failed, skipped and unknown records (code and message) to the issues table; count all by code.

    Runs as a teardown: whichever way the update ended, and without deciding the run's state. A
    requested id without a record (the update's last try was lost with its worker, so nothing was
    pushed) is ``unknown`` with code ``NOT_REPORTED``: never counted as no issue.

    :param update_task_id: the update task whose ``records`` XCom is reported.
    :param requested: the ids the update was given (text, a list, or a list of chunks).
    """
    ti, run_id, dag_id = context["ti"], context["run_id"], context["dag"].dag_id
    records = _flatten(ti.xcom_pull(task_ids=update_task_id, key="records"))
    records += _unreported(update_task_id, requested, records)
    issues = [r for r in records if r["outcome"] in ISSUE_OUTCOMES]
    hook = BaseHook.get_hook(STAGING)
    p = hook.placeholder
    # a retried report replaces its rows instead of adding them twice
    delete = f"DELETE FROM {ISSUES} WHERE dag_id = {p} AND run_id = {p}"  # noqa: S608 (constants)
    hook.run(delete, parameters=(dag_id, run_id))
    if issues:
        rows = [(dag_id, run_id, r["id"], r["outcome"], r["code"], r["message"]) for r in issues]
        fields = ["dag_id", "run_id", "lead_id", "outcome", "code", "message"]
        hook.insert_rows(ISSUES, rows, target_fields=fields)
    by_code = Counter(str(r["code"]) for r in records)
    by_outcome = Counter(str(r["outcome"]) for r in records)
    log.info("%d record(s): %s; %d issue(s) written to %s", len(records), dict(by_code), len(issues), ISSUES)
    return {"by_code": dict(by_code), "by_outcome": dict(by_outcome), "issues": len(issues)}


def checked_mass_update(
    *, table: str, field: str, allowed: Sequence[str], outlets: Sequence[Asset] = ()
) -> LeadsMassUpdateOperator:
    """
    Add the checked mass update of a staging table's leads to the DAG being defined.

    ``check_table`` and ``check_columns`` (common-sql) must pass before ``select_batch`` reads the ids;
    ``update_leads`` sets ``field`` to the batch's one value; ``report`` is its teardown, so the run's
    state is the update's and not the report's.

    :param table: staging table with ``lead_id`` and ``new_value`` columns.
    :param field: the Leads field to set.
    :param allowed: values ``new_value`` may hold.
    :param outlets: assets the update task updates when it succeeds.
    :return: the update task.
    """
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in allowed)
    check_table = SQLTableCheckOperator(
        task_id="check_table",
        conn_id=STAGING,
        table=table,
        checks={
            "rows_present": {"check_statement": "COUNT(*) >= 1"},
            # 1-19 digits: TRIM(x, chars) strips digits in both SQLite and PostgreSQL
            "ids_numeric": {
                "check_statement": "LENGTH(lead_id) BETWEEN 1 AND 19 AND TRIM(lead_id, '0123456789') = ''"
            },
            "new_value_allowed": {"check_statement": f"new_value IN ({quoted})"},
        },
    )
    check_columns = SQLColumnCheckOperator(
        task_id="check_columns",
        conn_id=STAGING,
        table=table,
        column_mapping={
            "lead_id": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}},
            "new_value": {"null_check": {"equal_to": 0}, "distinct_check": {"equal_to": 1}},
        },
    )
    batch = cast("PlainXComArg", select_batch(table, field))
    update = LeadsMassUpdateOperator(
        task_id="update_leads",
        ids=batch["ids"],
        data=batch["data"],
        max_skipped_ratio=0.5,  # skip (soft-fail) when more than half the leads could not be updated
        locked_retries=2,  # RECORD_LOCKED (e.g. Zia processing): re-send twice, about 3 s then 6 s later
        locked_retry_delay=3.0,
        pool=POOL,
        pool_slots=4,  # = max_concurrency (default 4)
        outlets=list(outlets),
        **RETRIES,
    )
    [check_table, check_columns] >> batch.operator
    batch >> update >> report(requested=batch["ids"]).as_teardown(setups=cast("BaseOperator", batch.operator))
    return update
