"""
Per-record checks of Update Records and Upsert: the target id, the values, uniqueness, states.

Each check returns what it found, or the record's error entry (``{code, details, message, status}``)
with ``api_name`` and ``json_path`` details, as Zoho's per-record errors carry them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator import defaults
from airflow_crm_provider.testing.emulator.mass_update import BLOCKED_MESSAGES, NOT_APPROVED_MESSAGE
from airflow_crm_provider.testing.emulator.responses import error_body

if TYPE_CHECKING:
    from airflow_crm_provider.testing.emulator.store import Module

#: Row keys that are not fields (``$append_values`` is read; the other ``$`` keys are ignored).
APPEND_KEY = "$append_values"


def _invalid(index: int, api_name: str, message: str = "invalid data", **more: Any) -> dict[str, Any]:
    details = {"api_name": api_name, "json_path": f"$.data[{index}].{api_name}", **more}
    return error_body("INVALID_DATA", message, details)


def _row_error(index: int) -> dict[str, Any]:
    details = {"expected_data_type": "jsonobject", "json_path": f"$.data[{index}]"}
    return error_body("INVALID_DATA", "invalid data", details)


def target_id(module: Module, row: Any, index: int) -> str | dict[str, Any]:
    """
    Return the existing record a row names by ``id``, or its error entry.

    :param module: the module written to.
    :param row: one element of ``data``.
    :param index: its position in ``data``.
    """
    if not isinstance(row, dict):
        return _row_error(index)
    record_id = row.get("id")
    if record_id is None or record_id == "":
        details = {"api_name": "id", "json_path": f"$.data[{index}].id"}
        return error_body("MANDATORY_NOT_FOUND", "required field not found", details)
    text = str(record_id) if isinstance(record_id, (str, int)) and not isinstance(record_id, bool) else ""
    if text not in module.records:
        return _invalid(index, "id", "the id given seems to be invalid")
    return text


def values(
    module: Module, row: Any, index: int, *, inserting: bool
) -> tuple[dict[str, Any], dict[str, Any]] | dict[str, Any]:
    """
    Validate a row's field values: ``(values that replace, multi-select values that append)``.

    :param module: the module written to.
    :param row: one element of ``data``.
    :param index: its position in ``data``.
    :param inserting: the row creates a record, so the mandatory fields must have values.
    :return: the two mappings, or the row's error entry (``INVALID_DATA``, ``MANDATORY_NOT_FOUND``).
    """
    if not isinstance(row, dict):
        return _row_error(index)
    append_flags = row.get(APPEND_KEY, {})
    if not isinstance(append_flags, dict) or not all(isinstance(v, bool) for v in append_flags.values()):
        return _invalid(index, APPEND_KEY, expected_data_type="jsonobject")
    replace: dict[str, Any] = {}
    append: dict[str, Any] = {}
    for api_name, value in row.items():
        if api_name == "id" or api_name.startswith("$"):
            continue
        field = module.fields.get(api_name)
        if field is None:
            return _invalid(index, api_name)
        ok, clean = field.coerce(value)
        if not ok:
            return _invalid(index, api_name, expected_data_type=field.data_type)
        if api_name in defaults.MANDATORY_FIELDS and clean in (None, ""):
            return _mandatory(index, api_name)
        appends = append_flags.get(api_name) and field.data_type == "multiselectpicklist"
        (append if appends else replace)[api_name] = clean
    if inserting:
        for api_name in sorted(defaults.MANDATORY_FIELDS & set(module.fields)):
            if api_name not in replace:
                return _mandatory(index, api_name)
    return replace, append


def _mandatory(index: int, api_name: str) -> dict[str, Any]:
    details = {"api_name": api_name, "json_path": f"$.data[{index}].{api_name}"}
    return error_body("MANDATORY_NOT_FOUND", "required field not found", details)


def duplicate(
    module: Module, written: dict[str, Any], index: int, record_id: str | None
) -> dict[str, Any] | None:
    """
    Return ``DUPLICATE_DATA`` when a value of a unique field is another record's, else None.

    :param module: the module written to.
    :param written: the values about to be written.
    :param index: the row's position in ``data``.
    :param record_id: the record written (None: a new one).
    """
    for api_name, value in written.items():
        if value is None or not module.fields[api_name].unique:
            continue
        for other_id, other in module.records.items():
            if other_id != record_id and other.get(api_name) == value:
                details = {
                    "api_name": api_name,
                    "json_path": f"$.data[{index}].{api_name}",
                    "duplicate_record": {"id": other_id, "module": {"api_name": module.name}},
                }
                return error_body("DUPLICATE_DATA", "duplicate data", details)
    return None


def blocked(code: str, record_id: str) -> dict[str, Any]:
    """Return the entry of a record whose state refuses updates (``NOT_APPROVED``, ``RECORD_LOCKED``...)."""
    if code == "RECORD_LOCKED":
        return error_body(code, NOT_APPROVED_MESSAGE, {"action": defaults.LOCK_ACTION, "id": record_id})
    return error_body(code, BLOCKED_MESSAGES[code], {"id": record_id})


def duplicate_check_fields(module: Module, given: Any) -> list[str] | dict[str, Any]:
    """
    Return the fields an upsert matches on, in order, or the details of its ``INVALID_DATA``.

    Only the module's system-defined duplicate check field and its unique fields may be named;
    without ``duplicate_check_fields``, those, system-defined first.

    :param module: the module written to.
    :param given: the body's ``duplicate_check_fields``.
    """
    system = defaults.DUPLICATE_CHECK_FIELDS.get(module.name)
    allowed = [f for f in (system,) if f in module.fields] + [
        name for name, field in module.fields.items() if field.unique and name != system
    ]
    if given is None:
        return allowed
    if not isinstance(given, list) or not given:
        return {"api_name": "duplicate_check_fields", "json_path": "$.duplicate_check_fields"}
    for position, name in enumerate(given):
        if name not in allowed:
            json_path = f"$.duplicate_check_fields[{position}]"
            return {"api_name": "duplicate_check_fields", "json_path": json_path, "supported_values": allowed}
    return list(dict.fromkeys(given))


def match(module: Module, row: Any, fields: list[str]) -> tuple[str | None, str | None]:
    """
    Return ``(id, field)`` of the record an upsert row matches, or ``(None, None)``.

    The first duplicate check field with a record holding the row's value decides; the oldest such
    record is the match.

    :param module: the module written to.
    :param row: one element of ``data`` without ``id``.
    :param fields: the duplicate check fields, in order.
    """
    if not isinstance(row, dict):
        return None, None
    for api_name in fields:
        value = row.get(api_name)
        if value is None or value == "":
            continue
        for record_id, record in module.records.items():
            if record.get(api_name) == value:
                return record_id, api_name
    return None, None
