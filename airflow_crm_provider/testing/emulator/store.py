"""The emulator's record store: modules, field definitions, records, their states and custom views."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_crm_provider.testing.emulator import defaults


def zoho_time(timestamp: float) -> str:
    """Format a Unix time as Zoho does: ``2021-05-12T07:26:48+00:00``."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_NUMERIC_TYPES = frozenset({"integer", "currency", "double", "decimal"})


def _finite(value: float | str) -> float | None:
    """Return ``value`` as a float, or None if out of range, NaN or infinite (raw JSON allows those)."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class FieldDef:
    """A field of a module: its Zoho data type, whether mass update may set it, whether it is unique."""

    api_name: str
    data_type: str
    mass_updatable: bool
    #: "Do not allow duplicate values": a write that repeats another record's value is DUPLICATE_DATA
    unique: bool = False

    def coerce(self, value: Any) -> tuple[bool, Any]:
        """
        Check ``value`` against the data type, as Zoho does for a write.

        :param value: the value from the request (None clears the field).
        :return: ``(True, stored value)`` or ``(False, None)`` when the value does not fit.
        """
        if value is None:
            return True, None
        kind = self.data_type
        if kind in _NUMERIC_TYPES:
            numeric_text = isinstance(value, str) and _NUMBER.match(value) is not None
            if isinstance(value, bool) or not (isinstance(value, (int, float)) or numeric_text):
                return False, None
            number = _finite(value)
            if number is None:
                return False, None
            if kind != "integer":
                return True, number
            if isinstance(value, int):
                return True, value
            return (True, int(number)) if number.is_integer() else (False, None)
        if kind == "boolean":
            return isinstance(value, bool), value
        if kind == "multiselectpicklist":
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            return ok, list(value) if ok else None
        if kind == "date":
            return isinstance(value, str) and _DATE.match(value) is not None, value
        if kind == "lookup":
            lookup_id = value.get("id") if isinstance(value, dict) else None
            ok = isinstance(lookup_id, (str, int)) and not isinstance(lookup_id, bool)
            ok = ok and str(lookup_id).isdigit()
            return ok, {**value, "id": str(lookup_id)} if ok else None
        return isinstance(value, str), value


@dataclass
class Module:
    """One CRM module and everything seeded into it."""

    name: str
    fields: dict[str, FieldDef]
    max_fields: int
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_approved: set[str] = field(default_factory=set)
    #: ids in a blueprint (RECORD_IN_BLUEPRINT) and in the "stop processing" state (CANNOT_PROCESS)
    in_blueprint: set[str] = field(default_factory=set)
    cannot_process: set[str] = field(default_factory=set)
    #: locked id -> update attempts that still see RECORD_LOCKED (None: forever)
    locks: dict[str, int | None] = field(default_factory=dict)
    custom_views: dict[str, list[str]] = field(default_factory=dict)
    territories: dict[str, list[str]] = field(default_factory=dict)

    def blocker(self, record_id: str) -> str | None:
        """
        Return the code that stops an update of this record now (consuming one locked attempt).

        :param record_id: an existing record's id.
        :return: ``NOT_APPROVED``, ``RECORD_IN_BLUEPRINT``, ``CANNOT_PROCESS``, ``RECORD_LOCKED`` or
            None when the record can be updated.
        """
        if record_id in self.not_approved:
            return "NOT_APPROVED"
        if record_id in self.in_blueprint:
            return "RECORD_IN_BLUEPRINT"
        if record_id in self.cannot_process:
            return "CANNOT_PROCESS"
        if record_id not in self.locks:
            return None
        remaining = self.locks[record_id]
        if remaining is not None:
            if remaining <= 0:
                del self.locks[record_id]
                return None
            self.locks[record_id] = remaining - 1
        return "RECORD_LOCKED"

    def apply(self, record_id: str, values: dict[str, Any], over_write: bool, now: str) -> dict[str, Any]:
        """
        Write ``values`` into a record, as a mass update does, and return the SUCCESS details.

        :param record_id: an existing record's id.
        :param values: field api name -> validated value.
        :param over_write: replace multi-select picklist values instead of appending to them.
        :param now: the new ``Modified_Time``.
        """
        record = self.records[record_id]
        for api_name, value in values.items():
            if self.fields[api_name].data_type == "multiselectpicklist" and value is not None:
                current = [] if over_write else list(record.get(api_name) or [])
                value = current + [v for v in value if v not in current]
            record[api_name] = value
        record["Modified_Time"] = now
        record["Modified_By"] = dict(defaults.CURRENT_USER)
        return {
            "Modified_Time": now,
            "Modified_By": dict(defaults.CURRENT_USER),
            "Created_Time": record["Created_Time"],
            "id": record_id,
            "Created_By": dict(record["Created_By"]),
        }


def make_field(api_name: str, spec: str | dict[str, Any]) -> FieldDef:
    """
    Build a field definition from ``"integer"`` or ``{"type": "integer", "mass_updatable": true}``.

    :param api_name: the field's api name.
    :param spec: the data type, or a mapping with ``type`` and optional ``mass_updatable`` and ``unique``.
    :raises ValueError: when the spec is neither, has no type, or a flag is not a bool.
    """
    if isinstance(spec, str):
        spec = {"type": spec}
    data_type = spec.get("type") if isinstance(spec, dict) else None
    if not isinstance(data_type, str) or not data_type:
        raise ValueError(f"field {api_name!r} needs a data type, got {spec!r}")
    mass_updatable = spec.get("mass_updatable", data_type not in defaults.NOT_MASS_UPDATABLE_TYPES)
    if not isinstance(mass_updatable, bool):
        raise ValueError(
            f"mass_updatable of field {api_name!r} must be true or false, got {mass_updatable!r}"
        )
    unique = spec.get("unique", False)
    if not isinstance(unique, bool):
        raise ValueError(f"unique of field {api_name!r} must be true or false, got {unique!r}")
    return FieldDef(api_name, data_type, mass_updatable, unique)


class RecordStore:
    """All modules of the emulated org, in their default state until seeded otherwise."""

    def __init__(self) -> None:
        self.modules: dict[str, Module] = {}
        self._ids = itertools.count(defaults.FIRST_GENERATED_ID)
        for name, specs in defaults.MODULE_FIELDS.items():
            self.define(name, {k: {"type": t, "mass_updatable": m} for k, (t, m) in specs.items()})
        leads = self.modules["Leads"]
        for n, (record_id, created) in enumerate(defaults.SEED_RECORDS.items()):
            leads.records[record_id] = defaults.make_record("Leads", record_id, n, created)
        leads.not_approved.add(defaults.NOT_APPROVED_ID)
        leads.locks[defaults.LOCKED_ID] = None
        generated = self.generate("Leads", defaults.GENERATED_LEADS)
        leads.custom_views[defaults.LEADS_VIEW_ID] = [*defaults.SEED_IDS, *generated]
        leads.custom_views[defaults.EMPTY_VIEW_ID] = []
        leads.territories[defaults.TERRITORY_ID] = [defaults.SEED_IDS[0], *generated[::2]]
        for name in ("Contacts", "Accounts", "Deals"):
            self.generate(name, defaults.GENERATED_OTHERS)

    def define(self, module: str, fields: dict[str, Any], max_fields: int | None = None) -> Module:
        """
        Create a module or add/replace field definitions of an existing one.

        :param module: module api name.
        :param fields: api name -> data type, or ``{"type", "mass_updatable"}``.
        :param max_fields: fields allowed per mass update (default: Zoho's, 1 or 3 for Deals).
        :raises ValueError: for a bad field spec (nothing is created or changed then).
        """
        definitions = {name: make_field(name, spec) for name, spec in fields.items()}
        target = self.modules.get(module)
        if target is None:
            limit = defaults.MAX_FIELDS.get(module, defaults.DEFAULT_MAX_FIELDS)
            target = self.modules[module] = Module(module, {}, limit)
        target.fields.update(definitions)
        if max_fields is not None:
            target.max_fields = max_fields
        return target

    def generate(self, module: str, count: int) -> list[str]:
        """
        Add ``count`` generated records to ``module`` and return their ids.

        :param module: an existing module's api name.
        :param count: how many records to create.
        """
        target = self.modules[module]
        ids = [str(next(self._ids)) for _ in range(count)]
        for record_id in ids:
            target.records[record_id] = defaults.make_record(module, record_id, len(target.records))
        return ids

    def insert(self, module: str, values: dict[str, Any], now: str) -> dict[str, Any]:
        """
        Create a record with ``values`` (other defined fields empty) and return the SUCCESS details.

        :param module: an existing module's api name.
        :param values: field api name -> validated value.
        :param now: its ``Created_Time`` and ``Modified_Time``.
        """
        target = self.modules[module]
        record_id = str(next(self._ids))
        record: dict[str, Any] = {"id": record_id, **dict.fromkeys(target.fields), **values}
        record.update(
            Created_Time=now,
            Created_By=dict(defaults.CURRENT_USER),
            Modified_Time=now,
            Modified_By=dict(defaults.CURRENT_USER),
        )
        target.records[record_id] = record
        return {
            "Modified_Time": now,
            "Modified_By": dict(defaults.CURRENT_USER),
            "Created_Time": now,
            "id": record_id,
            "Created_By": dict(defaults.CURRENT_USER),
        }

    def seed(
        self,
        module: str,
        *,
        count: int = 0,
        ids: list[str] | None = None,
        not_approved: list[str] | None = None,
        in_blueprint: list[str] | None = None,
        cannot_process: list[str] | None = None,
        locked: list[str] | None = None,
        locked_for: int | None = None,
        fields: dict[str, Any] | None = None,
        custom_views: dict[str, list[str]] | None = None,
        territories: dict[str, list[str]] | None = None,
    ) -> list[str]:
        """
        Create or change records of ``module`` (the module is created if new) and return their ids.

        :param module: module api name.
        :param count: generated records to add.
        :param ids: records to create when missing (kept when present).
        :param not_approved: ids to mark NOT_APPROVED (created when missing).
        :param in_blueprint: ids to put in a blueprint: RECORD_IN_BLUEPRINT (created when missing).
        :param cannot_process: ids to put in the "stop processing" state: CANNOT_PROCESS (created
            when missing).
        :param locked: ids to mark RECORD_LOCKED (created when missing).
        :param locked_for: update attempts that see RECORD_LOCKED before the lock clears (None: forever).
        :param fields: field api name -> value, set on every id given or generated in this call.
        :param custom_views: cvid -> member ids (replaces the view).
        :param territories: territory id -> member ids (replaces the territory).
        :return: the ids given (``ids``, then new ones from the state lists), then generated.
        """
        target = self.modules.get(module) or self.define(module, {})
        states = [*(not_approved or []), *(in_blueprint or []), *(cannot_process or []), *(locked or [])]
        touched = list(dict.fromkeys([*(ids or []), *states]))
        for record_id in touched:
            if record_id not in target.records:
                target.records[record_id] = defaults.make_record(module, record_id, len(target.records))
        touched += self.generate(module, count)
        target.not_approved.update(not_approved or [])
        target.in_blueprint.update(in_blueprint or [])
        target.cannot_process.update(cannot_process or [])
        target.locks.update(dict.fromkeys(locked or [], locked_for))
        for record_id in touched:
            target.records[record_id].update(fields or {})
        target.custom_views.update({str(k): [str(i) for i in v] for k, v in (custom_views or {}).items()})
        target.territories.update({str(k): [str(i) for i in v] for k, v in (territories or {}).items()})
        return touched
