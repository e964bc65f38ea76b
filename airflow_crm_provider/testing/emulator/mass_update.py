"""``/crm/{version}/{module}/actions/mass_update``: POST in ids or cvid/territory mode, GET job status."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator import criteria, defaults
from airflow_crm_provider.testing.emulator.responses import (
    bare_error,
    error_body,
    request_error,
    zoho_json,
)
from airflow_crm_provider.testing.emulator.store import zoho_time

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.responses import Response

    from airflow_crm_provider.testing.emulator.state import EmulatorState
    from airflow_crm_provider.testing.emulator.store import Module

MAX_IDS = 500
MAX_JOB_RECORDS = 50_000
#: The seed's message for both NOT_APPROVED and RECORD_LOCKED (copy-pasted by Zoho).
NOT_APPROVED_MESSAGE = "cannot update record that is not approved yet"
#: Row-level code -> message, for records seeded in a state that refuses updates.
BLOCKED_MESSAGES = {
    "NOT_APPROVED": NOT_APPROVED_MESSAGE,
    "RECORD_IN_BLUEPRINT": "The record is in blue print",
    "CANNOT_PROCESS": "The record is in stop processing",
}
INVALID_MODULE = ("INVALID_MODULE", "The module name given seems to be invalid", {"resource_path_index": 0})


def post(state: EmulatorState, module_name: str, body: Any, now: float) -> Response:
    """
    Answer a mass update request, changing the records (ids mode) or scheduling a job (cvid mode).

    :param state: the emulator state.
    :param module_name: module api name from the path.
    :param body: the parsed request body.
    :param now: the current time.
    """
    error = partial(request_error, state.config.error_shape)
    module = state.store.modules.get(module_name)
    if module is None:
        return error(*INVALID_MODULE)
    if not isinstance(body, dict):
        return error("INVALID_DATA", "the request body is not a JSON object", {})
    data = body.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return error("MANDATORY_NOT_FOUND", "required field not found", {"api_name": "data"})
    if len(data) > 1:  # one set of values for every record: Zoho takes exactly one data[] object
        return error("INVALID_DATA", "invalid data", {"api_name": "data", "json_path": "$.data", "limit": 1})
    if "ids" in body and ("cvid" in body or "territory" in body):
        other = "cvid" if "cvid" in body else "territory"
        details = {
            "api_name": other,
            "json_path": f"$.{other}",
            "reason": "give either ids or cvid, not both",
        }
        return error("INVALID_DATA", "invalid data", details)
    values = _values(module, data[0], error)
    if not isinstance(values, dict):
        return values
    over_write = body.get("over_write", False)
    if not isinstance(over_write, bool):
        return error("INVALID_DATA", "invalid data", _type_details("over_write", "boolean", "$.over_write"))
    if "ids" in body:
        if "criteria" in body:
            details = {"api_name": "criteria", "json_path": "$.criteria", "reason": "criteria filters a cvid"}
            return error("INVALID_DATA", "invalid data", details)
        return _ids_mode(state, module, body["ids"], values, over_write, now, error)
    if "cvid" in body:
        return _job_mode(state, module, body, values, over_write, now, error)
    details = {"api_name": "cvid"} if "territory" in body else {}
    return error("MANDATORY_NOT_FOUND", "required field not found", details)


def status(state: EmulatorState, module_name: str, query: dict[str, str], now: float) -> Response:
    """
    Answer a job status request (``?job_id=``).

    :param state: the emulator state (jobs are advanced by the caller).
    :param module_name: module api name from the path.
    :param query: the query parameters.
    :param now: the current time.
    """
    if module_name not in state.store.modules:
        return bare_error(*INVALID_MODULE[:2], 400, INVALID_MODULE[2])
    job_id = query.get("job_id")
    if not job_id:
        return bare_error("MANDATORY_NOT_FOUND", "mandatory param missing", 400, {"param_name": "job_id"})
    job = state.jobs.jobs.get(job_id)
    if job is None or job.module != module_name:
        return bare_error("NOT_FOUND", "Empty response", 404)
    return zoho_json({"data": [job.status(now)]})


def _type_details(api_name: str, expected: str, json_path: str) -> dict[str, str]:
    return {"api_name": api_name, "expected_data_type": expected, "json_path": json_path}


def _values(
    module: Module, values: dict[str, Any], error: Callable[..., Response]
) -> dict[str, Any] | Response:
    """Validate ``data[0]`` against the module's fields: the clean values, or the error answer."""
    if not values:
        return error("INVALID_DATA", "No field found", {})
    if len(values) > module.max_fields:
        return error("INVALID_DATA", "Max field limit exceeded", {"limit": module.max_fields})
    clean: dict[str, Any] = {}
    for api_name, value in values.items():
        field = module.fields.get(api_name)
        if field is None or not field.mass_updatable:
            return error(
                "INVALID_DATA", "This field cannot be updated in the Mass Update", {"api_name": api_name}
            )
        ok, clean[api_name] = field.coerce(value)
        if not ok:
            details = _type_details(api_name, field.data_type, f"$.data[0].{api_name}")
            return error("INVALID_DATA", "invalid data", details)
    return clean


def _ids_mode(
    state: EmulatorState,
    module: Module,
    ids: Any,
    values: dict[str, Any],
    over_write: bool,
    now: float,
    error: Callable[..., Response],
) -> Response:
    """Update each listed record now and answer one ``data[]`` entry per id, in order."""
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return error("INVALID_DATA", "invalid data", _type_details("ids", "jsonarray of strings", "$.ids"))
    if not ids:
        return error("MANDATORY_NOT_FOUND", "required field not found", {"api_name": "ids"})
    if len(ids) > MAX_IDS:
        return error("LIMIT_EXCEEDED", "Record count exceeded", {"api_name": "ids", "limit": MAX_IDS})
    stamp = zoho_time(now)
    entries = []
    for record_id in ids:
        if record_id not in module.records:
            entries.append(error_body("INVALID_DATA", "the id given seems to be invalid", {"id": record_id}))
            continue
        blocker = module.blocker(record_id)
        if blocker == "RECORD_LOCKED":
            details = {"action": defaults.LOCK_ACTION, "id": record_id}
            entries.append(error_body("RECORD_LOCKED", NOT_APPROVED_MESSAGE, details))
        elif blocker is not None:
            entries.append(error_body(blocker, BLOCKED_MESSAGES[blocker], {"id": record_id}))
        else:
            details = module.apply(record_id, values, over_write, stamp)
            state.counters.records_changed += 1
            entries.append(
                {"code": "SUCCESS", "details": details, "message": "record updated", "status": "success"}
            )
    return zoho_json({"data": entries})


def _job_mode(
    state: EmulatorState,
    module: Module,
    body: dict[str, Any],
    values: dict[str, Any],
    over_write: bool,
    now: float,
    error: Callable[..., Response],
) -> Response:
    """Schedule a job over the custom view's records (optionally within a territory)."""
    cvid = str(body["cvid"])
    if cvid not in module.custom_views:
        return error("INVALID_DATA", "the id given seems to be invalid", {"api_name": "cvid", "id": cvid})
    record_ids = [i for i in module.custom_views[cvid] if i in module.records]
    territory = body.get("territory")
    if territory is not None:
        territory_id = str(territory.get("id")) if isinstance(territory, dict) else None
        if territory_id not in module.territories:
            return error("INVALID_DATA", "the id given seems to be invalid", {"api_name": "territory"})
        members = set(module.territories[territory_id])
        record_ids = [i for i in record_ids if i in members]
    if body.get("criteria") is not None:
        matcher = criteria.compile_criteria(body["criteria"], module)
        if isinstance(matcher, str):
            details = {"api_name": "criteria", "json_path": "$.criteria", "reason": matcher}
            return error("INVALID_DATA", "invalid data", details)
        record_ids = [i for i in record_ids if matcher(module.records[i])]
    if not record_ids:
        return error("NO_RECORDS_FOUND", "no record found to update", {})
    if len(record_ids) > MAX_JOB_RECORDS:
        return error("LIMIT_EXCEEDED", "Record count exceeded", {"limit": MAX_JOB_RECORDS})
    if state.jobs.running(module.name, cvid, now):
        message = "Already a Mass Action scheduler is running for the given cvid"
        return error("ALREADY_SCHEDULED", message, {}, status=202, seed_status=202)
    job = state.jobs.create(
        module=module.name,
        cvid=cvid,
        record_ids=record_ids,
        values=values,
        over_write=over_write,
        started=now,
        duration=state.config.job_duration,
        fail=state.config.fail_jobs,
    )
    state.counters.jobs_scheduled += 1
    message = "mass update scheduled successfully"
    entry = {"code": "SUCCESS", "details": {"job_id": job.job_id}, "message": message, "status": "success"}
    return zoho_json({"data": [entry]})
