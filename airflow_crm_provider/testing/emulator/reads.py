"""Record and user reads: ``GET /crm/{v}/{module}``, ``.../{module}/{id}``, ``.../users``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator import defaults
from airflow_crm_provider.testing.emulator.mass_update import INVALID_MODULE
from airflow_crm_provider.testing.emulator.responses import bare_error, no_content, zoho_json

if TYPE_CHECKING:
    from starlette.responses import Response

    from airflow_crm_provider.testing.emulator.state import EmulatorState

MAX_READ_IDS = 100
MAX_PER_PAGE = 200
USER_TYPES = ("CurrentUser", "AllUsers", "ActiveUsers", "AdminUsers")
USER: dict[str, Any] = {
    "id": defaults.CURRENT_USER["id"],
    "first_name": "Patricia",
    "last_name": "Boyle",
    "full_name": defaults.CURRENT_USER["name"],
    "email": defaults.CURRENT_USER_EMAIL,
    "status": "active",
    "confirm": True,
    "role": {"name": "CEO", "id": "738964000000026005"},
    "profile": {"name": "Administrator", "id": "738964000000026011"},
    "time_zone": "Etc/UTC",
    "locale": "en_US",
}


def _invalid_module() -> Response:
    return bare_error(INVALID_MODULE[0], INVALID_MODULE[1], 400, INVALID_MODULE[2])


def _info(count: int, page: int, per_page: int, more: bool) -> dict[str, Any]:
    return {"per_page": per_page, "count": count, "page": page, "more_records": more}


def records(state: EmulatorState, module_name: str, query: dict[str, str]) -> Response:
    """
    List records: the existing ones among ``ids`` (at most 100), else one page of all; 204 if none.

    :param state: the emulator state.
    :param module_name: module api name from the path.
    :param query: ``ids`` and ``fields`` (comma-separated), ``page``, ``per_page``.
    """
    module = state.store.modules.get(module_name)
    if module is None:
        return _invalid_module()
    fields = [f for f in query.get("fields", "").split(",") if f]
    if "ids" in query:
        ids = list(dict.fromkeys(i for i in query["ids"].split(",") if i))
        if len(ids) > MAX_READ_IDS:
            return bare_error(
                "LIMIT_EXCEEDED", "limit exceeded", 400, {"param": "ids", "limit": MAX_READ_IDS}
            )
        chosen, page, per_page, more = [i for i in ids if i in module.records], 1, MAX_READ_IDS, False
    else:
        try:
            page = max(1, int(query.get("page", "1")))
            per_page = min(MAX_PER_PAGE, max(1, int(query.get("per_page", str(MAX_PER_PAGE)))))
        except ValueError:
            return bare_error("INVALID_DATA", "invalid data", 400, {"param_name": "page"})
        everything = list(module.records)
        chosen = everything[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(everything)
    if not chosen:
        return no_content()
    data = [_project(module.records[i], fields) for i in chosen]
    return zoho_json({"data": data, "info": _info(len(data), page, per_page, more)})


def record(state: EmulatorState, module_name: str, record_id: str) -> Response:
    """Return one record as ``{"data": [record]}``, or 204 when there is none."""
    module = state.store.modules.get(module_name)
    if module is None:
        return _invalid_module()
    found = module.records.get(record_id)
    return zoho_json({"data": [found]}) if found is not None else no_content()


def users(query: dict[str, str]) -> Response:
    """Answer ``GET /users?type=CurrentUser`` (and the other list types) with the emulator's one user."""
    kind = query.get("type", "AllUsers")
    if kind not in USER_TYPES:
        return bare_error(
            "INVALID_DATA", "invalid data", 400, {"param_name": "type", "supported_values": USER_TYPES}
        )
    return zoho_json({"users": [USER], "info": _info(1, 1, MAX_PER_PAGE, False)})


def _project(found: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Return the record limited to ``fields`` (plus ``id``), or all of it when none are named."""
    if not fields:
        return found
    return {"id": found["id"], **{f: found[f] for f in fields if f in found}}
