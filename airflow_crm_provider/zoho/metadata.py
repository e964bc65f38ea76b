"""
Zoho CRM's metadata replies: a module's fields (``settings/fields``) and the org's modules.

Only what a client checks before writing is kept: a field's API name, type, whether it can be set,
and its picklist values. The calls that get them are built in :mod:`~airflow_crm_provider.zoho.calls`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_crm_provider.zoho.errors import ZohoRequestError


@dataclass(frozen=True, slots=True)
class FieldMeta:
    """
    One field of a module, as ``settings/fields`` describes it.

    :param api_name: the name API calls use, e.g. ``Lead_Status``.
    :param data_type: Zoho's data type (``text``, ``picklist``, ``multiselectpicklist``, ``lookup``...).
    :param read_only: ``read_only`` or ``field_read_only`` (a system field, or read-only for the profile).
    :param api_update: ``operation_type.api_update``: whether the API may update it (True when not said).
    :param mass_update: ``mass_update``: whether a mass update may set it (None when not said).
    :param picklist: the ``actual_value`` of each picklist value (empty for other types, or not sent).
    :param picklist_labels: their ``display_value``.
    """

    api_name: str
    data_type: str
    read_only: bool = False
    api_update: bool = True
    mass_update: bool | None = None
    picklist: tuple[str, ...] = ()
    picklist_labels: tuple[str, ...] = ()


def _field(entry: dict[str, Any]) -> FieldMeta:
    operation = entry.get("operation_type")
    values = [v for v in entry.get("pick_list_values") or () if isinstance(v, dict)]
    mass_update = entry.get("mass_update")
    return FieldMeta(
        api_name=str(entry["api_name"]),
        data_type=str(entry.get("data_type") or ""),
        read_only=entry.get("read_only") is True or entry.get("field_read_only") is True,
        api_update=not (isinstance(operation, dict) and operation.get("api_update") is False),
        mass_update=mass_update if isinstance(mass_update, bool) else None,
        picklist=tuple(str(v["actual_value"]) for v in values if v.get("actual_value") is not None),
        picklist_labels=tuple(str(v["display_value"]) for v in values if v.get("display_value") is not None),
    )


def parse_fields(body: Any, status: int) -> dict[str, FieldMeta]:
    """Return ``api_name -> FieldMeta`` of a ``settings/fields`` reply, in Zoho's order."""
    entries = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ZohoRequestError("Zoho sent no fields[] in its field metadata reply", http_status=status)
    return {f.api_name: f for f in (_field(e) for e in entries if isinstance(e, dict) and e.get("api_name"))}


def parse_modules(body: Any, status: int) -> list[str]:
    """Return the API names of the modules a ``settings/modules`` reply says the API supports."""
    entries = body.get("modules") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise ZohoRequestError("Zoho sent no modules[] in its module list reply", http_status=status)
    return [
        str(m["api_name"])
        for m in entries
        if isinstance(m, dict) and m.get("api_name") and m.get("api_supported") is not False
    ]
