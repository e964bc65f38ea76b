"""
Outcomes of a write run: error classes applied to codes, per-record results, summary, decision.

Pure functions, no I/O and no Airflow. This is the one module that applies the user's error policy
to Zoho's codes, and where the XCom shapes and the task-outcome rules live. Each runner (ids, job,
dry run, revert) returns a :class:`RunResult`; the operator pushes it and ends the task.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from airflow_crm_provider.runs.collector import collection_paused
from airflow_crm_provider.zoho.credits import CALL_KINDS
from airflow_crm_provider.zoho.errors import (
    CREDIT_ERRORS,
    RETRYABLE_ERRORS,
    ErrorClass,
    ZohoCreditFloorError,
    ZohoCRMError,
    classify,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from typing_extensions import NotRequired

    from airflow_crm_provider.zoho.api import ZohoEntry

log = logging.getLogger(__name__)

Outcome = Literal["success", "skipped", "failed"]
#: The summary's ``mode``: how the run reached its records (``ids``, ``job``, ``dry_run``, ``revert``...).
Mode = str

#: Zoho's code for a record that was written.
SUCCESS = "SUCCESS"
#: Our code for an id that was never sent because the run stopped early.
NOT_SENT = "NOT_SENT"
#: Our code for an id that was sent but got no entry in Zoho's reply (fails closed).
NO_RESULT = "NO_RESULT"
#: Our code for an id that was sent but whose reply was lost: Zoho may or may not have applied it.
UNCONFIRMED = "UNCONFIRMED"
#: Our code for a record that already held the value(s) to set, so it was not sent.
UNCHANGED = "UNCHANGED"
#: Our codes that are not Zoho's answer to a write (never re-sent within the task).
OWN_CODES = frozenset({SUCCESS, NOT_SENT, NO_RESULT, UNCONFIRMED, UNCHANGED})

#: Record outcome of each error class once in-task retries are used up ("retry" ends as soft).
_RECORD_OUTCOME: dict[ErrorClass, str] = {
    ErrorClass.FAIL: "failed",
    ErrorClass.SOFT: "skipped",
    ErrorClass.RETRY: "skipped",
    ErrorClass.IGNORE: "ignored",
}
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
    #: an upsert's row index and what Zoho did with it (``insert``, ``update``; None if not written)
    row: NotRequired[int]
    action: NotRequired[str | None]


class Summary(TypedDict):
    """The ``return_value`` XCom of a write run (``reason`` explains ``outcome``)."""

    module: str
    mode: str
    requested: int
    updated: int
    skipped: int
    failed: int
    ignored: int
    unchanged: int
    by_code: dict[str, int]
    outcome: str
    job_id: str | None
    reason: str
    snapshot: SnapshotInfo | None
    #: calls Zoho answered by kind (``read``, ``mass_update``, ``status``, ``metadata``, ``other``)
    calls: dict[str, int]
    #: the API credits Zoho last said remain (None: not said, i.e. more than half remain, or no call)
    credits_remaining: int | None
    #: the calls a per-record run planned (Update Records: ``Plan.summary()``); absent otherwise
    plan: NotRequired[dict[str, Any]]
    #: an upsert's written records by what Zoho did (``insert``, ``update``); absent otherwise
    actions: NotRequired[dict[str, int]]


class SnapshotInfo(TypedDict):
    """What the ``snapshot`` XCom is a snapshot of: what a revert needs besides the prior values."""

    records: int
    data: dict[str, Any]
    over_write: bool


@dataclass(frozen=True)
class Thresholds:
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


@dataclass
class RunResult:
    """
    What a runner hands the operator to push and conclude.

    :param summary: the ``return_value`` XCom (``outcome``/``reason`` are set when it is concluded).
    :param records: the ``records`` XCom, one per requested id.
    :param decision: how the task ends.
    :param retryable: a transient error that stopped the run; re-raised so Airflow ``retries`` apply.
    :param final: whether the outcome is final, so the task's saved state can be forgotten.
    :param snapshot: the ``snapshot`` XCom (``{id: {field: prior value}}``), if one was taken.
    """

    summary: Summary
    records: list[RecordResult]
    decision: Decision
    retryable: BaseException | None = None
    final: bool = True
    snapshot: dict[str, dict[str, Any]] | None = None


def error_class(code: str | None, overrides: Mapping[str, ErrorClass] | None = None) -> ErrorClass:
    """
    Return the class of a Zoho code under the user's overrides (the one place the policy is applied).

    :param code: Zoho's ``code``.
    :param overrides: the user's per-code classes.
    """
    return classify(code, dict(overrides) if overrides else None)


def rejection_class(err: ZohoCRMError, overrides: Mapping[str, ErrorClass] | None = None) -> ErrorClass:
    """
    Return the class of a request that failed: ``RETRY`` for what a task retry may overcome, else the policy.

    :param err: the error the request ended with.
    :param overrides: the user's per-code classes.
    """
    if isinstance(err, RETRYABLE_ERRORS):
        return ErrorClass.RETRY
    if isinstance(err, CREDIT_ERRORS):
        return ErrorClass.FAIL  # credits come back over 24 hours: whatever the policy says of a 429
    return error_class(err.code, overrides)


def is_resendable(code: str, overrides: Mapping[str, ErrorClass] | None = None) -> bool:
    """
    Tell whether a record's code asks for a re-send in the task (``RECORD_LOCKED`` by default).

    :param code: the record's code.
    :param overrides: the user's per-code classes.
    """
    return code not in OWN_CODES and error_class(code, overrides) is ErrorClass.RETRY


def record_outcome(code: str | None, overrides: Mapping[str, ErrorClass] | None = None) -> str:
    """
    Return a record's outcome from its Zoho code, after in-task retries are used up.

    :param code: Zoho's ``code`` for the record (``SUCCESS`` means updated).
    :param overrides: the user's per-code classes.
    """
    key = (code or "").upper()
    if key == SUCCESS:
        return "updated"
    if key == UNCHANGED:
        return "unchanged"
    return _RECORD_OUTCOME[error_class(code, overrides)]


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
    outcomes: dict[str, str] = {NOT_SENT: "failed", UNCONFIRMED: "failed"}  # code -> outcome: few codes
    records: list[RecordResult] = []
    append = records.append
    with collection_paused():
        for record_id in ids:
            entry = entries.get(record_id) or error_entry(record_id, NOT_SENT, missing_message)
            code = entry["code"]
            outcome = outcomes.get(code)
            if outcome is None:
                outcome = outcomes[code] = record_outcome(code, overrides)
            append(
                {
                    "id": record_id,
                    "status": entry["status"],
                    "code": code,
                    "message": entry["message"],
                    "details": entry["details"],
                    "outcome": outcome,
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
    :param mode: how the run reached its records (:data:`Mode`).
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
        "unchanged": outcomes["unchanged"],
        "by_code": dict(codes.most_common()),
        "outcome": "success",
        "job_id": job_id,
        "reason": "",
        "snapshot": None,
        "calls": dict.fromkeys(CALL_KINDS, 0),
        "credits_remaining": None,
    }


def decide(
    summary: Summary, thresholds: Thresholds, *, request_error: ZohoCRMError | None = None
) -> Decision:
    """
    Decide the task outcome from the counts.

    Failed if a request-level fail happened or failed records exceed ``max_failed_records``; else
    skipped if nothing was updated or the skipped share (of records neither ignored nor unchanged)
    exceeds ``max_skipped_ratio`` (failed instead with ``soft_fail=False``); else success. Records
    that already held the values (``unchanged``) count as neither updated nor skipped: a run where
    every record was unchanged succeeds without a write.

    :param summary: counts from :func:`summarize`.
    :param thresholds: the user's thresholds.
    :param request_error: the request-level failure that stopped the run, if any.
    """
    if isinstance(request_error, ZohoCreditFloorError):  # ours: Zoho refused nothing
        return Decision("failed", f"stopped before sending more: {request_error.message}")
    if request_error is not None:
        return Decision("failed", f"Zoho rejected the request: {request_error.describe()}")
    failed, skipped, updated = summary["failed"], summary["skipped"], summary["updated"]
    if failed > thresholds.max_failed_records:
        return Decision(
            "failed",
            f"{failed} record(s) failed, more than max_failed_records={thresholds.max_failed_records}",
        )
    unchanged = summary["unchanged"]
    considered = summary["requested"] - summary["ignored"] - unchanged
    ratio = skipped / considered if considered else 0.0
    if updated == 0 and considered == 0 and unchanged:
        return Decision("success", f"nothing to change: {unchanged} record(s) already held the value(s)")
    if updated == 0:
        reason = f"no record was updated ({skipped} skipped, {summary['ignored']} ignored)"
    elif ratio > thresholds.max_skipped_ratio:
        reason = (
            f"{skipped} of {considered} record(s) skipped ({ratio:.0%}), "
            f"more than max_skipped_ratio={thresholds.max_skipped_ratio:g}"
        )
    else:
        tail = f", {unchanged} unchanged" if unchanged else ""
        return Decision("success", f"{updated} record(s) updated{tail}")
    if thresholds.soft_fail:
        return Decision("skipped", reason)
    return Decision("failed", f"{reason}, and soft_fail=False")


def format_report(
    summary: Summary, records: Sequence[RecordResult], *, what: str, limit: int = LOG_FAILURES
) -> str:
    """
    Return the compact log table: counts by outcome and by code, then the first failures.

    :param summary: the run summary.
    :param records: the per-record results.
    :param what: the run in words, e.g. ``"mass update"`` (the action's title) or ``"revert"``.
    :param limit: how many failed records to list with Zoho's messages.
    """
    lines = [
        f"Zoho CRM {what} of {summary['module']} ({summary['mode']}): {summary['requested']} requested, "
        f"{summary['updated']} updated, {summary['skipped']} skipped, {summary['failed']} failed, "
        f"{summary['ignored']} ignored"
        + (f", {summary['unchanged']} unchanged" if summary["unchanged"] else ""),
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
