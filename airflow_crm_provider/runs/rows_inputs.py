"""
The checked inputs of a per-record run (Update Records, Upsert): module, rows, trigger, the plan's settings.

Everything is checked before any call and every problem raises :class:`InputError`, as for a mass
update's ``data`` and ``ids`` (:mod:`airflow_crm_provider.runs.inputs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.runs.inputs import check_module
from airflow_crm_provider.runs.planner import Costs, MassRules
from airflow_crm_provider.runs.policy import InputError
from airflow_crm_provider.runs.rows import check_rows
from airflow_crm_provider.zoho.record_writes import check_trigger
from airflow_crm_provider.zoho.settings import API_NAME_RE

if TYPE_CHECKING:
    from airflow_crm_provider.runs.ids_runner import IdsSettings
    from airflow_crm_provider.runs.outcomes import Thresholds
    from airflow_crm_provider.runs.planner import Optimize
    from airflow_crm_provider.runs.policy import RunPolicy
    from airflow_crm_provider.runs.rows import Row
    from airflow_crm_provider.zoho.errors import ErrorClass


@dataclass(frozen=True)
class CheckedRows:
    """
    The rendered arguments of a per-record run, validated.

    :param module: module API name.
    :param rows: the checked rows, in input order.
    :param trigger: the ``trigger`` to send (None: none, Zoho runs all automation).
    :param policy: the error policy, thresholds and how calls are sent.
    :param optimize: what the plan minimises (Update Records).
    :param costs: Zoho's limits and costs (Update Records).
    :param rules: which rows may go as mass updates (Update Records).
    :param duplicate_check_fields: the fields an upsert matches on.
    """

    module: str
    rows: list[Row]
    trigger: list[str] | None
    policy: RunPolicy
    optimize: Optimize = "calls"
    costs: Costs = field(default_factory=Costs)
    rules: MassRules = field(default_factory=MassRules)
    duplicate_check_fields: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        """The rows' record ids, in input order (rows without one are left out)."""
        return [row.id for row in self.rows if row.id is not None]

    @property
    def overrides(self) -> dict[str, ErrorClass]:
        """The user's per-code error classes."""
        return self.policy.overrides

    @property
    def thresholds(self) -> Thresholds:
        """The task-outcome thresholds."""
        return self.policy.thresholds

    @property
    def sending(self) -> IdsSettings:
        """How calls are sent."""
        return self.policy.sending


def _trigger(value: Any) -> list[str] | None:
    try:
        return check_trigger(value)
    except ValueError as err:
        raise InputError(str(err)) from None


def check_costs(value: Any, batch_size: int) -> Costs:
    """
    Return the plan's :class:`Costs` from ``costs`` (a mapping of its fields, or None) and the batch size.

    :param value: the rendered ``costs`` argument.
    :param batch_size: records per Update Records call (the checked ``batch_size``).
    :raises InputError: an unknown key or a value out of range.
    """
    given = dict(value) if isinstance(value, Mapping) else value
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InputError(f"costs must be a mapping of Costs fields, got {type(value).__name__}")
    known = set(Costs.__dataclass_fields__)
    unknown = sorted(str(k) for k in given if k not in known)
    if unknown:
        raise InputError(f"costs has unknown keys {unknown}; known: {sorted(known)}")
    return Costs(**{"update_records_per_call": batch_size, **given})


def check_update_rows(
    *,
    module: Any,
    rows: Any,
    trigger: Any,
    optimize: Any,
    costs: Any,
    use_mass_update: bool,
    blocked_fields: Any,
    policy: RunPolicy,
) -> CheckedRows:
    """
    Validate an Update Records run: rows with ids, the trigger and the plan's settings.

    A mass update sends no ``trigger`` and runs the org's automation as Zoho's default does, so with
    a ``trigger`` given (or ``use_mass_update=False``) the plan takes Update Records calls only.

    :raises InputError: naming the first argument that is not usable.
    """
    checked_module = check_module(module)
    if optimize not in ("calls", "credits"):
        raise InputError(f"optimize must be 'calls' or 'credits', got {optimize!r}")
    blocked = _field_names("mass_update_blocked_fields", blocked_fields)
    sent_trigger = _trigger(trigger)
    rules = MassRules.for_module(checked_module, blocked_fields=frozenset(blocked))
    if sent_trigger is not None or not use_mass_update:
        rules = MassRules(enabled=False)
    return CheckedRows(
        module=checked_module,
        rows=check_rows(rows, kind="update"),
        trigger=sent_trigger,
        policy=policy,
        optimize=optimize,
        costs=check_costs(costs, policy.sending.batch_size or 100),
        rules=rules,
    )


def check_upsert_rows(
    *, module: Any, rows: Any, duplicate_check_fields: Any, trigger: Any, policy: RunPolicy
) -> CheckedRows:
    """
    Validate an Upsert run: rows (ids optional), the duplicate check fields and the trigger.

    Every row must carry an id or a value of a duplicate check field, and no two rows the same
    value of one: then sending a row again can only update the record a first send inserted, so a
    call whose reply was lost may be re-sent (see ``record_writes.upsert_request``).

    :raises InputError: naming the first argument that is not usable.
    """
    checked_module = check_module(module)
    fields = _field_names("duplicate_check_fields", duplicate_check_fields)
    if not fields:
        raise InputError("duplicate_check_fields must name at least one field, e.g. ['Email']")
    checked = check_rows(rows, kind="upsert")
    seen: dict[tuple[str, str], int] = {}
    for row in checked:
        keyed = [f for f in fields if row.values.get(f) not in (None, "")]
        if row.id is None and not keyed:
            raise InputError(
                f"rows[{row.index}] has no id and no value of {fields}: a re-send of it could insert "
                "it twice; give it an id or a duplicate check value"
            )
        for name in keyed:
            key = (name, str(row.values[name]).strip().lower())
            first = seen.setdefault(key, row.index)
            if first != row.index:
                raise InputError(
                    f"rows[{first}] and rows[{row.index}] have the same {name} {row.values[name]!r}: "
                    "Zoho would match both to one record"
                )
    return CheckedRows(
        module=checked_module,
        rows=checked,
        trigger=_trigger(trigger),
        policy=policy,
        duplicate_check_fields=fields,
    )


def _field_names(name: str, value: Any) -> list[str]:
    """Return a list of field API names, or raise naming the bad ones."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise InputError(f"{name} must be a list of field API names, got {type(value).__name__}")
    bad = [v for v in value if not isinstance(v, str) or not API_NAME_RE.match(v)]
    if bad:
        raise InputError(f"{name} has names that are not field API names: {bad!r}")
    return list(value)
