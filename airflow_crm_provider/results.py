"""
Per-record results, the run summary and the task-outcome decision of a mass update.

Everything here is a pure function except :func:`conclude`, the one place that pushes the XComs and
ends the task (success, skip or fail). Ids mode, job mode and dry runs all end through it, so the
XCom shapes and the outcome rules of the design brief live in this module only.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from airflow_crm_provider.errors import ErrorClass, ZohoTokenThrottledError, ZohoTransientError, classify

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from airflow.sdk import Context

    from airflow_crm_provider.replies import ZohoEntry

log = logging.getLogger(__name__)

Outcome = Literal["success", "skipped", "failed"]
Mode = Literal["ids", "job", "dry_run"]

#: Zoho's code for a record that was updated.
SUCCESS = "SUCCESS"
#: Our code for an id that was never sent because the run stopped early.
NOT_SENT = "NOT_SENT"
#: Our code for an id that was sent but got no entry in Zoho's reply (fails closed).
NO_RESULT = "NO_RESULT"

#: Record outcome of each error class once in-task retries are used up ("retry" ends as soft).
_RECORD_OUTCOME: dict[ErrorClass, str] = {
    ErrorClass.FAIL: "failed",
    ErrorClass.SOFT: "skipped",
    ErrorClass.RETRY: "skipped",
    ErrorClass.IGNORE: "ignored",
}
#: Errors a task retry may overcome (still failing after the hook's own retries, or the token-mint
#: throttle not yet over): they end the task as retryable so Airflow ``retries`` apply.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (ZohoTransientError, ZohoTokenThrottledError)
#: How many failed records the log lists with Zoho's messages.
LOG_FAILURES = 5


class RecordResult(TypedDict):
    """One requested id in the ``records`` XCom."""

    id: str
    status: str
    code: str
    message: str
    details: dict[str, Any]
    outcome: str


class Summary(TypedDict):
    """The ``return_value`` XCom of a mass update (``reason`` explains ``outcome``)."""

    module: str
    mode: str
    requested: int
    updated: int
    skipped: int
    failed: int
    ignored: int
    by_code: dict[str, int]
    outcome: str
    job_id: str | None
    reason: str


@dataclass(frozen=True)
class OutcomePolicy:
    """
    The user's thresholds for ending the task.

    :param max_failed_records: failed records tolerated before the task fails.
    :param max_skipped_ratio: share of skipped records (0..1) above which the task is skipped.
    :param soft_fail: skip (``True``) or fail (``False``) when a skip condition is met.
    """

    max_failed_records: int = 0
    max_skipped_ratio: float = 1.0
    soft_fail: bool = True


@dataclass(frozen=True)
class Decision:
    """
    How the task ends.

    :param outcome: ``success``, ``skipped`` or ``failed``.
    :param reason: one sentence for the log, the exception and the summary.
    """

    outcome: Outcome
    reason: str


def record_outcome(code: str | None, overrides: Mapping[str, ErrorClass] | None = None) -> str:
    """
    Return a record's outcome from its Zoho code, after in-task retries are used up.

    :param code: Zoho's ``code`` for the record (``SUCCESS`` means updated).
    :param overrides: the user's per-code classes (see :func:`~airflow_crm_provider.errors.classify`).
    """
    if (code or "").upper() == SUCCESS:
        return "updated"
    return _RECORD_OUTCOME[classify(code, dict(overrides) if overrides else None)]


def error_entry(
    record_id: str, code: str, message: str, details: Mapping[str, Any] | None = None
) -> ZohoEntry:
    """
    Build an error entry for an id that got no per-record reply of its own.

    :param record_id: the requested id.
    :param code: Zoho's request-level code, or :data:`NOT_SENT` / :data:`NO_RESULT`.
    :param message: what happened, in words.
    :param details: Zoho's details, if any.
    """
    return {
        "id": record_id,
        "status": "error",
        "code": code,
        "message": message,
        "details": dict(details or {}),
    }


def build_records(
    ids: Sequence[str],
    entries: Mapping[str, ZohoEntry],
    overrides: Mapping[str, ErrorClass] | None = None,
    *,
    missing_message: str = "not sent: the run stopped before this id was sent",
) -> list[RecordResult]:
    """
    Return one record per requested id, in input order.

    :param ids: the requested ids (unique).
    :param entries: id -> the entry Zoho (or the run) gave it.
    :param overrides: the user's per-code classes.
    :param missing_message: message for ids with no entry (code :data:`NOT_SENT`, outcome failed).
    """
    records: list[RecordResult] = []
    for record_id in ids:
        entry = entries.get(record_id) or error_entry(record_id, NOT_SENT, missing_message)
        code = entry["code"]
        records.append(
            {
                "id": record_id,
                "status": entry["status"],
                "code": code,
                "message": entry["message"],
                "details": entry["details"],
                "outcome": "failed" if code == NOT_SENT else record_outcome(code, overrides),
            }
        )
    return records


def summarize(
    module: str,
    mode: Mode,
    records: Iterable[RecordResult],
    *,
    requested: int | None = None,
    job_id: str | None = None,
) -> Summary:
    """
    Count records by outcome and by code (``outcome``/``reason`` are filled by :func:`decide`).

    :param module: Zoho module API name.
    :param mode: ``ids``, ``job`` or ``dry_run``.
    :param records: the per-record results.
    :param requested: number of requested records, if not the number of ``records`` (job mode).
    :param job_id: Zoho's job id (job mode).
    """
    outcomes: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for record in records:
        outcomes[record["outcome"]] += 1
        codes[record["code"]] += 1
    return {
        "module": module,
        "mode": mode,
        "requested": sum(outcomes.values()) if requested is None else requested,
        "updated": outcomes["updated"],
        "skipped": outcomes["skipped"],
        "failed": outcomes["failed"],
        "ignored": outcomes["ignored"],
        "by_code": dict(codes.most_common()),
        "outcome": "success",
        "job_id": job_id,
        "reason": "",
    }


def decide(summary: Summary, policy: OutcomePolicy, *, request_error: str | None = None) -> Decision:
    """
    Decide the task outcome from the counts, per the design brief's task-outcome rules.

    Failed if a request-level fail happened or failed records exceed ``max_failed_records``; else
    skipped if nothing was updated or the skipped share (of records not ignored) exceeds
    ``max_skipped_ratio`` (failed instead with ``soft_fail=False``); else success.

    :param summary: counts from :func:`summarize`.
    :param policy: the user's thresholds.
    :param request_error: description of a request-level failure that stopped the run, if any.
    """
    if request_error:
        return Decision("failed", f"Zoho rejected the request: {request_error}")
    failed, skipped, updated = summary["failed"], summary["skipped"], summary["updated"]
    if failed > policy.max_failed_records:
        return Decision(
            "failed",
            f"{failed} record(s) failed, more than max_failed_records={policy.max_failed_records}",
        )
    considered = summary["requested"] - summary["ignored"]
    ratio = skipped / considered if considered else 0.0
    if updated == 0:
        reason = f"no record was updated ({skipped} skipped, {summary['ignored']} ignored)"
    elif ratio > policy.max_skipped_ratio:
        reason = (
            f"{skipped} of {considered} record(s) skipped ({ratio:.0%}), "
            f"more than max_skipped_ratio={policy.max_skipped_ratio:g}"
        )
    else:
        return Decision("success", f"{updated} record(s) updated")
    if policy.soft_fail:
        return Decision("skipped", reason)
    return Decision("failed", f"{reason}, and soft_fail=False")


def format_report(summary: Summary, records: Sequence[RecordResult], *, limit: int = LOG_FAILURES) -> str:
    """
    Return the compact log table: counts by outcome and by code, then the first failures.

    :param summary: the run summary.
    :param records: the per-record results.
    :param limit: how many failed records to list with Zoho's messages.
    """
    lines = [
        f"Zoho CRM mass update of {summary['module']} ({summary['mode']}): {summary['requested']} requested, "
        f"{summary['updated']} updated, {summary['skipped']} skipped, {summary['failed']} failed, "
        f"{summary['ignored']} ignored",
    ]
    if summary["by_code"]:
        width = max(len(code) for code in summary["by_code"])
        lines.append(f"  {'code'.ljust(width)}  count")
        lines.extend(f"  {code.ljust(width)}  {count}" for code, count in summary["by_code"].items())
    failures = [r for r in records if r["outcome"] == "failed"]
    if failures:
        lines.append(f"  first {min(limit, len(failures))} of {len(failures)} failed record(s):")
        for record in failures[:limit]:
            details = f" {record['details']}" if record["details"] else ""
            lines.append(f"    {record['id']}: {record['code']}: {record['message']}{details}")
    return "\n".join(lines)


def conclude(
    context: Context,
    summary: Summary,
    records: Sequence[RecordResult],
    decision: Decision,
    *,
    push: bool = True,
    retryable: BaseException | None = None,
) -> Summary:
    """
    Log the report, push both XComs, then end the task as the decision says.

    The summary (``return_value``) and ``records`` are pushed before any exception is raised, so
    ``all_done`` downstream tasks and callbacks can read them whichever way the task ends.

    :param context: the task context (its ``ti`` pushes the XComs).
    :param summary: counts from :func:`summarize`; ``outcome`` and ``reason`` are set here.
    :param records: the per-record results.
    :param decision: the outcome from :func:`decide`.
    :param push: push XComs (the operator's ``do_xcom_push``).
    :param retryable: a transient error that stopped the run; re-raised so Airflow ``retries`` apply.
    :return: the summary, on success (the operator returns it as ``return_value``).
    :raises AirflowFailException: the decision is ``failed`` (no Airflow retries).
    :raises AirflowSkipException: the decision is ``skipped``.
    """
    from airflow_crm_provider.operators._compat import AirflowFailException, AirflowSkipException

    outcome: Outcome = "failed" if retryable is not None else decision.outcome
    summary["outcome"] = outcome
    summary["reason"] = str(retryable) if retryable is not None else decision.reason
    log.info("%s", format_report(summary, records))
    if push:
        context["ti"].xcom_push(key="records", value=list(records))
        if outcome != "success":
            context["ti"].xcom_push(key="return_value", value=summary)
    if retryable is not None:
        log.error("Zoho CRM mass update stopped by a transient error; Airflow retries apply: %s", retryable)
        raise retryable
    if outcome == "failed":
        raise AirflowFailException(f"Zoho CRM mass update of {summary['module']} failed: {decision.reason}")
    if outcome == "skipped":
        raise AirflowSkipException(f"Zoho CRM mass update of {summary['module']} skipped: {decision.reason}")
    log.info("Zoho CRM mass update of %s succeeded: %s", summary["module"], decision.reason)
    return summary
