"""
Metadata reads Zoho's SDK makes first: ``/settings/modules``, ``/settings/fields?module=``, ``/org``.

Served from the emulator's field specs, in the shapes of Zoho's OAS (``modules.json``,
``fields.json``, ``org.json``), with the keys a client reads; Zoho sends many more.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator import defaults
from airflow_crm_provider.testing.emulator.mass_update import INVALID_MODULE
from airflow_crm_provider.testing.emulator.responses import bare_error, zoho_json
from airflow_crm_provider.testing.emulator.store import FieldDef

if TYPE_CHECKING:
    from starlette.responses import Response

    from airflow_crm_provider.testing.emulator.state import EmulatorState

ORG_ID = "738964000000002001"
ZGID = "738964123"
_CREATED = "2021-05-07T06:00:00+00:00"
#: Zoho data type -> ``json_type`` of the fields API.
_JSON_TYPES = {
    "integer": "integer",
    "bigint": "integer",
    "currency": "double",
    "double": "double",
    "decimal": "double",
    "percent": "double",
    "boolean": "boolean",
    "multiselectpicklist": "jsonarray",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "userlookup": "jsonobject",
}
#: The system fields every module has, which no API call sets: api name -> data type.
SYSTEM_FIELDS = {
    "Created_By": "ownerlookup",
    "Created_Time": "datetime",
    "Modified_By": "ownerlookup",
    "Modified_Time": "datetime",
}
_LENGTHS = {"text": 255, "email": 100, "textarea": 32000, "picklist": 120, "integer": 9, "currency": 16}


def _id(*parts: str) -> str:
    """Return a stable 18-digit id for a module or field, like Zoho's."""
    return str(738964000000100000 + zlib.crc32(":".join(parts).encode()) % 100000)


def _label(api_name: str) -> str:
    return api_name.replace("_", " ")


def _field(module: str, field: FieldDef, number: int) -> dict[str, Any]:
    """Return one entry of the fields API for an emulator field."""
    entry: dict[str, Any] = {
        "api_name": field.api_name,
        "id": _id(module, field.api_name),
        "display_label": _label(field.api_name),
        "field_label": _label(field.api_name),
        "data_type": field.data_type,
        "json_type": _JSON_TYPES.get(field.data_type, "string"),
        "length": _LENGTHS.get(field.data_type, 255),
        "decimal_place": 2 if field.data_type == "currency" else None,
        "system_mandatory": field.api_name in defaults.MANDATORY_FIELDS,
        "read_only": False,
        "field_read_only": False,
        "custom_field": False,
        "visible": True,
        "mass_update": field.mass_updatable,
        "operation_type": {"web_update": True, "api_create": True, "web_create": True, "api_update": True},
        "sequence_number": number,
        "pick_list_values": _picklist(module, field),
    }
    if field.data_type == "lookup":
        entry["lookup"] = {}
    return entry


def _system_field(module: str, api_name: str, data_type: str, number: int) -> dict[str, Any]:
    """Return the entry of a system field: read-only, set by Zoho alone."""
    entry = _field(module, FieldDef(api_name, data_type, mass_updatable=False), number)
    entry["read_only"] = entry["field_read_only"] = True
    entry["operation_type"] = dict.fromkeys(entry["operation_type"], False)
    return entry


def _picklist(module: str, field: FieldDef) -> list[dict[str, Any]]:
    """Return the field's picklist values (empty for other types)."""
    if field.data_type not in ("picklist", "multiselectpicklist"):
        return []
    values = defaults.picklist_values(field.api_name, field.data_type)
    return [
        {
            "display_value": value,
            "actual_value": value,
            "reference_value": value,
            "id": _id(module, field.api_name, value),
            "sequence_number": n,
            "type": "used",
            "colour_code": None,
        }
        for n, value in enumerate(values, start=1)
    ]


def fields(state: EmulatorState, query: dict[str, str]) -> Response:
    """Answer ``GET /settings/fields?module=``: the module's fields, 400 for a missing or unknown one."""
    name = query.get("module")
    if not name:
        return bare_error(
            "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", 400, {"param": "module"}
        )
    module = state.store.modules.get(name)
    if module is None:
        return bare_error(INVALID_MODULE[0], INVALID_MODULE[1], 400, {"param": "module"})
    entries = [_field(name, f, n) for n, f in enumerate(module.fields.values(), start=1)]
    entries += [
        _system_field(name, api_name, data_type, n)
        for n, (api_name, data_type) in enumerate(SYSTEM_FIELDS.items(), start=len(entries) + 1)
        if api_name not in module.fields
    ]
    return zoho_json({"fields": entries})


def modules(state: EmulatorState) -> Response:
    """Answer ``GET /settings/modules``: every module of the store, all API-supported."""
    entries = [
        {
            "api_name": name,
            "module_name": name,
            "id": _id(name),
            "singular_label": _label(name).rstrip("s"),
            "plural_label": _label(name),
            "api_supported": True,
            "generated_type": "default" if name in defaults.MODULE_FIELDS else "custom",
            "creatable": True,
            "editable": True,
            "deletable": True,
            "viewable": True,
            "visible": True,
            "visibility": 1,
            "status": "visible",
            "sequence_number": n,
            "modified_time": _CREATED,
            "modified_by": dict(defaults.CURRENT_USER),
        }
        for n, name in enumerate(state.store.modules, start=1)
    ]
    return zoho_json({"modules": entries})


def org(state: EmulatorState) -> Response:
    """Answer ``GET /org``: the emulated organization, its edition in ``license_details``."""
    entry = {
        "id": ORG_ID,
        "zgid": ZGID,
        "company_name": "Zoho CRM Emulator",
        "domain_name": f"org{ZGID}",
        "primary_email": defaults.CURRENT_USER_EMAIL,
        "primary_zuid": "738964321",
        "type": "Production",
        "time_zone": "Etc/UTC",
        "currency": "US Dollar - USD",
        "currency_symbol": "$",
        "currency_locale": "en_US",
        "iso_code": "USD",
        "country_code": "US",
        "mc_status": False,
        "gapps_enabled": False,
        "translation_enabled": False,
        "hipaa_compliance_enabled": False,
        "lite_users_enabled": False,
        "max_per_page": 200,
        "created_time": _CREATED,
        "license_details": {
            "paid": state.config.edition != "free",
            "paid_type": state.config.edition,
            "paid_expiry": "2030-01-01T00:00:00+00:00",
            "users_license_purchased": 10,
            "trial_type": None,
            "trial_expiry": None,
            "trial_action": "",
        },
    }
    return zoho_json({"org": [entry]})
