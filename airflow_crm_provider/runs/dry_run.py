"""
Dry run (ids mode): read the target fields of each record and report what a mass update would change.

Nothing is written: the only requests are record reads (``get_records``, 100 ids per request, Zoho's
limit). Each id gets the outcome ``would_update``, ``unchanged`` or ``not_found``; the task succeeds
unless reading fails. The runner returns a :class:`~airflow_crm_provider.runs.outcomes.RunResult`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.runs.outcomes import (
    NOT_SENT,
    Decision,
    RecordResult,
    RunResult,
    Summary,
    summarize,
)
from airflow_crm_provider.runs.values import holds
from airflow_crm_provider.zoho.errors import ZohoCRMError, is_final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook

log = logging.getLogger(__name__)

#: ``status`` of every dry-run record (nothing was sent to the mass update API).
DRY_RUN_STATUS = "dry_run"
DRY_RUN_NOTE = "dry run: records were read, nothing was written"


class DryRunSummary(Summary):
    """The dry-run summary: the common keys (all zero but ``requested``) plus the dry-run counts."""

    would_update: int
    not_found: int
    note: str


def dry_run_record(
    record_id: str, record: Mapping[str, Any] | None, data: Mapping[str, Any], over_write: bool
) -> RecordResult:
    """
    Return the dry-run result of one id.

    :param record_id: the requested id.
    :param record: the record as read (target fields only), or ``None`` if Zoho has no such record.
    :param data: field API name -> value the mass update would set.
    :param over_write: replace (``True``) or append to (``False``) multi-select values.
    """
    if record is None:
        return {
            "id": record_id,
            "status": DRY_RUN_STATUS,
            "code": "NOT_FOUND",
            "message": "no such record, or not visible to this connection's user",
            "details": {},
            "outcome": "not_found",
        }
    current = {name: record.get(name) for name in data}
    changed = [name for name, value in data.items() if not holds(current[name], value, over_write)]
    if changed:
        return {
            "id": record_id,
            "status": DRY_RUN_STATUS,
            "code": "WOULD_UPDATE",
            "message": f"would change {', '.join(changed)}",
            "details": {"current": current, "changed": changed},
            "outcome": "would_update",
        }
    return {
        "id": record_id,
        "status": DRY_RUN_STATUS,
        "code": "UNCHANGED",
        "message": "already holds the value(s) to set",
        "details": {"current": current},
        "outcome": "unchanged",
    }


def _not_read(record_id: str, err: BaseException) -> RecordResult:
    return {
        "id": record_id,
        "status": "error",
        "code": NOT_SENT,
        "message": f"not read: the dry run stopped ({type(err).__name__}) before reading this id",
        "details": {},
        "outcome": "failed",
    }


def run_dry_run(
    hook: ZohoCRMHook,
    *,
    module: str,
    data: Mapping[str, Any],
    ids: Sequence[str],
    over_write: bool = False,
    values: Mapping[str, Mapping[str, Any]] | None = None,
) -> RunResult:
    """
    Read the ids' target fields and return the would-be results (no write is sent).

    :param hook: the Zoho CRM hook.
    :param module: Zoho module API name.
    :param data: field API name -> value the mass update would set.
    :param ids: unique record ids, in input order.
    :param over_write: the run's ``over_write`` flag.
    :param values: id -> the values to set on that record, for a run with a value per record
        (``data`` is then ignored).
    """
    fields = list(data) if values is None else list(dict.fromkeys(f for v in values.values() for f in v))
    log.info("Dry run: reading %s of %d %s record(s); nothing is written", fields, len(ids), module)
    found: dict[str, dict[str, Any]] = {}
    read = 0
    error: BaseException | None = None
    try:
        for chunk, got in hook.iter_records(module, ids, fields):
            found.update(got)
            read += len(chunk)
    except Exception as err:  # every id still gets a record, and the XComs are pushed
        error = err
    records = [
        dry_run_record(i, found.get(i), data if values is None else values[i], over_write) for i in ids[:read]
    ]
    if error is not None:
        records += [_not_read(i, error) for i in ids[read:]]
    base = summarize(module, "dry_run", records)
    counts = {k: sum(r["outcome"] == k for r in records) for k in ("would_update", "unchanged", "not_found")}
    summary: DryRunSummary = {
        **base,
        "would_update": counts["would_update"],
        "unchanged": counts["unchanged"],
        "not_found": counts["not_found"],
        "note": DRY_RUN_NOTE,
    }
    if error is None:
        reason = (
            f"dry run: {counts['would_update']} would be updated, {counts['unchanged']} unchanged, "
            f"{counts['not_found']} not found; nothing was written"
        )
        return RunResult(summary, records, Decision("success", reason))
    text = error.describe() if isinstance(error, ZohoCRMError) else f"{type(error).__name__}: {error}"
    decision = Decision("failed", f"dry run could not read the records: {text}")
    if is_final(error):
        return RunResult(summary, records, decision)
    return RunResult(summary, records, decision, retryable=error)
