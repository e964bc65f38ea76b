"""
A value per record: Update Records (``PUT /crm/{v}/{module}`` and ``.../{module}/{id}``) and Upsert.

Both take ``{"data": [record, ...], "trigger": [...]}`` with at most 100 records and answer one
``data[]`` entry per record, in input order. Per-record checks come from :mod:`.row_checks`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator import row_checks
from airflow_crm_provider.testing.emulator.mass_update import INVALID_MODULE
from airflow_crm_provider.testing.emulator.responses import bare_error, error_body, zoho_json
from airflow_crm_provider.testing.emulator.store import zoho_time

if TYPE_CHECKING:
    from starlette.responses import Response

    from airflow_crm_provider.testing.emulator.state import EmulatorState
    from airflow_crm_provider.testing.emulator.store import Module

#: Records per call (Zoho's documented limit; one more is ``LIMIT_EXCEEDED``).
MAX_RECORDS = 100
#: Records a credit pays for, and calls with more records than this are heavy (sub-concurrency).
RECORDS_PER_CREDIT = 10
#: The automation a ``trigger`` array may name; without ``trigger`` Zoho runs all of it.
TRIGGERS = ("workflow", "approval", "blueprint", "pathfinder", "orchestration")


def record_count(body: Any) -> int:
    """Return how many records a write body carries (at least 1, for costing a malformed body)."""
    data = body.get("data") if isinstance(body, dict) else None
    return max(1, len(data)) if isinstance(data, list) else 1


def credits_of(body: Any) -> int:
    """Return a write's cost in API credits: 1 per 10 records, rounded up."""
    return -(-record_count(body) // RECORDS_PER_CREDIT)


def is_heavy(body: Any) -> bool:
    """Tell whether a write counts in the heavy sub-concurrency pool (more than 10 records)."""
    return record_count(body) > RECORDS_PER_CREDIT


def update(
    state: EmulatorState,
    module_name: str,
    body: Any,
    unmodified_since: str | None,
    now: float,
    record_id: str | None = None,
) -> Response:
    """
    Answer Update Records (``record_id`` None) or Update a Record (``record_id`` from the path).

    :param state: the emulator state.
    :param module_name: module api name from the path.
    :param body: the parsed request body.
    :param unmodified_since: the ``If-Unmodified-Since`` header, if any.
    :param now: the current time.
    :param record_id: the path's record id (its rows need no ``id``).
    """
    checked = _request(state, module_name, body, unmodified_since, single=record_id is not None)
    if not isinstance(checked, tuple):
        return checked
    module, rows, triggers, since = checked
    stamp = zoho_time(now)
    entries = []
    for index, row in enumerate(rows):
        if record_id is not None and isinstance(row, dict):
            row = {**row, "id": record_id}
        target = row_checks.target_id(module, row, index)
        if isinstance(target, dict):
            entries.append(target)
            continue
        entries.append(_write(state, module, row, index, target, since, triggers, stamp))
    return _reply(state, entries)


def upsert(
    state: EmulatorState, module_name: str, body: Any, unmodified_since: str | None, now: float
) -> Response:
    """
    Answer Upsert Records: rows with an ``id`` update it, the others are matched or inserted.

    A row without ``id`` is matched, in order, on the duplicate check fields: it updates the first
    record found, or is inserted.

    :param state: the emulator state.
    :param module_name: module api name from the path.
    :param body: the parsed request body.
    :param unmodified_since: the ``If-Unmodified-Since`` header, if any.
    :param now: the current time.
    """
    checked = _request(state, module_name, body, unmodified_since, single=False)
    if not isinstance(checked, tuple):
        return checked
    module, rows, triggers, since = checked
    check_fields = row_checks.duplicate_check_fields(module, body.get("duplicate_check_fields"))
    if isinstance(check_fields, dict):
        return bare_error("INVALID_DATA", "invalid data", 400, check_fields)
    stamp = zoho_time(now)
    entries = []
    for index, row in enumerate(rows):
        if isinstance(row, dict) and "id" in row:
            target: str | dict[str, Any] | None = row_checks.target_id(module, row, index)
            matched_on = None
        else:
            target, matched_on = row_checks.match(module, row, check_fields)
        if isinstance(target, dict):
            entries.append(target)
        elif target is None:
            entries.append(_insert(state, module, row, index, triggers, stamp))
        else:
            entry = _write(state, module, row, index, target, since, triggers, stamp)
            if entry["status"] == "success":
                entry = {"code": "SUCCESS", "duplicate_field": matched_on, "action": "update", **entry}
            entries.append(entry)
    return _reply(state, entries)


def _request(
    state: EmulatorState, module_name: str, body: Any, unmodified_since: str | None, *, single: bool
) -> tuple[Module, list[Any], tuple[str, ...], datetime | None] | Response:
    """Check what every record shares: module, ``data``, its size, ``trigger``, the header."""
    module = state.store.modules.get(module_name)
    if module is None:
        return bare_error(INVALID_MODULE[0], INVALID_MODULE[1], 400, INVALID_MODULE[2])
    if not isinstance(body, dict):
        return bare_error("INVALID_DATA", "the request body is not a JSON object", 400, {})
    rows = body.get("data")
    details: dict[str, Any] = {"api_name": "data", "json_path": "$.data"}
    if not isinstance(rows, list) or not rows:
        return bare_error("MANDATORY_NOT_FOUND", "required field not found", 400, details)
    limit = 1 if single else MAX_RECORDS
    if len(rows) > limit:
        details = {"api_name": "data", "json_path": "$.data", "limit": limit}
        return bare_error("LIMIT_EXCEEDED", "Record count exceeded", 400, details)
    triggers = body.get("trigger", list(TRIGGERS))
    if not isinstance(triggers, list) or not all(t in TRIGGERS for t in triggers):
        details = {"api_name": "trigger", "json_path": "$.trigger", "supported_values": list(TRIGGERS)}
        return bare_error("INVALID_DATA", "invalid data", 400, details)
    since = None
    if unmodified_since is not None:
        since = _parse_time(unmodified_since)
        if since is None:
            details = {"header_name": "If-Unmodified-Since", "expected_data_type": "datetime"}
            return bare_error("INVALID_DATA", "invalid data", 400, details)
    return module, rows, tuple(dict.fromkeys(triggers)), since


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _write(
    state: EmulatorState,
    module: Module,
    row: dict[str, Any],
    index: int,
    record_id: str,
    since: datetime | None,
    triggers: tuple[str, ...],
    stamp: str,
) -> dict[str, Any]:
    """Update one existing record from its row, or return the row's error entry."""
    values = row_checks.values(module, row, index, inserting=False)
    if isinstance(values, dict):
        return values
    replace, append = values
    if since is not None:
        modified = _parse_time(str(module.records[record_id].get("Modified_Time") or ""))
        if modified is not None and modified > since:
            details = {"id": record_id}
            return error_body("ALREADY_MODIFIED", "the record was modified after the given time", details)
    blocker = module.blocker(record_id)
    if blocker is not None:
        return row_checks.blocked(blocker, record_id)
    duplicate = row_checks.duplicate(module, {**replace, **append}, index, record_id)
    if duplicate is not None:
        return duplicate
    details = module.apply(record_id, replace, True, stamp)
    if append:
        details = module.apply(record_id, append, False, stamp)
    state.counters.records_changed += 1
    _fire(state, triggers)
    return {"code": "SUCCESS", "details": details, "message": "record updated", "status": "success"}


def _insert(
    state: EmulatorState,
    module: Module,
    row: Any,
    index: int,
    triggers: tuple[str, ...],
    stamp: str,
) -> dict[str, Any]:
    """Create a record from an upsert row that matched none, or return the row's error entry."""
    values = row_checks.values(module, row, index, inserting=True)
    if isinstance(values, dict):
        return values
    replace, append = values
    merged = {**replace, **append}
    duplicate = row_checks.duplicate(module, merged, index, None)
    if duplicate is not None:
        return duplicate
    details = state.store.insert(module.name, merged, stamp)
    state.counters.records_inserted += 1
    _fire(state, triggers)
    entry = {"code": "SUCCESS", "duplicate_field": None, "action": "insert", "details": details}
    return {**entry, "message": "record added", "status": "success"}


def _fire(state: EmulatorState, triggers: tuple[str, ...]) -> None:
    """Count the automation a written record would start (the emulator runs none of it)."""
    fired = state.counters.triggers_fired
    for name in triggers:
        fired[name] = fired.get(name, 0) + 1


def _reply(state: EmulatorState, entries: list[dict[str, Any]]) -> Response:
    """
    Answer the entries with the status their outcomes call for.

    200 if all succeeded, 400 if none did (412 if all were ``ALREADY_MODIFIED``), else
    ``partial_status`` (Zoho's status for a partial failure of these calls is not documented).
    """
    failed = [e["code"] for e in entries if e["status"] != "success"]
    if not failed:
        status = 200
    elif len(failed) < len(entries):
        status = state.config.partial_status
    else:
        status = 412 if set(failed) == {"ALREADY_MODIFIED"} else 400
    return zoho_json({"data": entries}, status)
