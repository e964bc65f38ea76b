"""
Plan the calls that write checked rows: mass updates where rows share their values, Update Records otherwise.

Rows whose values are equal (the same fields set to the same JSON) form a group; a group may go as mass
updates (one value, up to 500 ids a call) and every other row as Update Records (any values, up to 100
records a call). The plan takes the fewest calls or the fewest credits, as asked, and breaks a tie on
the other measure, then on fewer mass updates.

Why it is exact: a plan's cost depends only on its number of mass update calls ``K`` and the number
of rows left to Update Records ``P`` (``ceil(P/100)`` calls, ``ceil(P/10)`` credits), and it never falls
as ``P`` grows. So for each ``K`` the best plan leaves the fewest rows, which is the one whose ``K``
calls *save* the most rows. A group of ``g`` rows offers ``g // 500`` calls saving 500 rows each and,
if ``g % 500``, one saving the remainder; taking ``k`` of a group's calls saves at most
``min(g, 500 k)``, the sum of its ``k`` largest offers. Hence the most ``K`` calls can save is the sum
of the ``K`` largest offers over all groups, and trying every ``K`` (one sort, one pass) finds the
optimum. ``tests/planning`` checks it against every assignment of rows on small cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from airflow_crm_provider.runs.inputs import InputError
from airflow_crm_provider.runs.rows import ID, check_rows, value_key
from airflow_crm_provider.zoho.credits import MASS_UPDATE_KIND, UPDATE_RECORDS_KIND
from airflow_crm_provider.zoho.settings import MAX_FIELDS_PER_CALL, MAX_MASS_UPDATE_IDS, MAX_RECORDS_PER_WRITE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_crm_provider.runs.rows import Row

Optimize = Literal["calls", "credits"]
CallKind = Literal["mass_update", "update_records"]
#: The kinds of planned call: the credit meter's kinds of the two actions.
MASS_UPDATE: CallKind = MASS_UPDATE_KIND
UPDATE_RECORDS: CallKind = UPDATE_RECORDS_KIND
#: A planned mass update replaces multi-select values, as the Update Records call it stands in for does.
OVER_WRITE = True


@dataclass(frozen=True)
class Costs:
    """
    Zoho's per-call limits and credit costs, as configuration.

    Update Records costs 1 credit per 10 records of a call (Zoho's API limits page). What a mass update
    costs is not documented anywhere; the default, 1 credit a call, is the cost the same page gives
    every call it does not price otherwise ("1 credit by default"). Set ``mass_update_credits`` to what
    the org's API dashboard shows once known.

    :param update_records_per_call: records per Update Records call (at most 100).
    :param records_per_credit: records of a call one Update Records credit covers.
    :param mass_update_ids_per_call: ids per mass update call (at most 500).
    :param mass_update_credits: credits one mass update call costs (undocumented; see above).
    """

    update_records_per_call: int = MAX_RECORDS_PER_WRITE
    records_per_credit: int = 10
    mass_update_ids_per_call: int = MAX_MASS_UPDATE_IDS
    mass_update_credits: int = 1

    def __post_init__(self) -> None:
        """Refuse a limit outside Zoho's or a cost that is not a whole number of credits."""
        for name, low, high in (
            ("update_records_per_call", 1, MAX_RECORDS_PER_WRITE),
            ("records_per_credit", 1, None),
            ("mass_update_ids_per_call", 1, MAX_MASS_UPDATE_IDS),
            ("mass_update_credits", 0, None),
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < low
                or (high and value > high)
            ):
                bound = f"between {low} and {high}" if high is not None else f"at least {low}"
                raise InputError(f"costs: {name} must be an integer {bound}, got {value!r}")

    def update_calls(self, records: int) -> int:
        """Return how many Update Records calls ``records`` rows take."""
        return -(-records // self.update_records_per_call)

    def update_credits(self, records: int) -> int:
        """Return the credits of ``records`` rows sent in full Update Records calls (the last one partial)."""
        full, rest = divmod(records, self.update_records_per_call)
        per_call = -(-self.update_records_per_call // self.records_per_credit)
        return full * per_call + -(-rest // self.records_per_credit)

    def call_credits(self, kind: CallKind, records: int) -> int:
        """Return the credits one call of ``kind`` with ``records`` rows costs."""
        if kind == MASS_UPDATE:
            return self.mass_update_credits
        return -(-records // self.records_per_credit)


@dataclass(frozen=True)
class MassRules:
    """
    Which rows a mass update may write in place of Update Records.

    :param enabled: ``False`` plans Update Records only. Set it when the run passes a ``trigger``
        other than Zoho's default: a mass update has no ``trigger`` and always runs the org's automation.
    :param max_fields: fields one mass update call sets (1 in most modules, 3 in Deals).
    :param blocked_fields: fields mass update refuses in this org (Email, multi-line, layout fields...);
        a row setting one goes as Update Records. Lookup values (objects) always do.
    """

    enabled: bool = True
    max_fields: int = 1
    blocked_fields: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def for_module(cls, module: str, *, blocked_fields: frozenset[str] = frozenset()) -> MassRules:
        """
        Return the rules for ``module``: Deals takes 3 fields a mass update, every other module 1.

        :param module: module API name.
        :param blocked_fields: fields mass update refuses.
        """
        return cls(max_fields=MAX_FIELDS_PER_CALL if module == "Deals" else 1, blocked_fields=blocked_fields)

    def allows(self, values: Mapping[str, Any]) -> bool:
        """Return whether a mass update can set ``values``."""
        return (
            self.enabled
            and len(values) <= self.max_fields
            and not any(name in self.blocked_fields for name in values)
            and not any(isinstance(value, Mapping) for value in values.values())
        )


@dataclass(frozen=True)
class Call:
    """
    One planned call.

    :param kind: ``mass_update`` (the rows share their values) or ``update_records``.
    :param rows: its rows, in input order.
    """

    kind: CallKind
    rows: tuple[Row, ...]

    @property
    def ids(self) -> list[str]:
        """The record ids, in input order."""
        return [str(row.id) for row in self.rows]

    @property
    def data(self) -> dict[str, Any]:
        """The values a mass update sets (its rows all have them)."""
        if self.kind != MASS_UPDATE:
            raise TypeError("an Update Records call has a value per record: read records()")
        return dict(self.rows[0].values)

    def records(self) -> list[dict[str, Any]]:
        """Return the records of an Update Records call's body: ``{"id": ..., field: value, ...}`` each."""
        return [row.record() for row in self.rows]


@dataclass(frozen=True)
class Plan:
    """
    The calls that write a run's rows, mass updates first, then Update Records; each row in one call.

    :param calls: the calls, in the order to send them.
    :param optimize: what the plan minimises, ``calls`` or ``credits``.
    :param costs: the costs it was planned with.
    """

    calls: tuple[Call, ...]
    optimize: Optimize
    costs: Costs

    @property
    def mass_update_calls(self) -> int:
        """How many mass update calls."""
        return sum(1 for call in self.calls if call.kind == MASS_UPDATE)

    @property
    def update_calls(self) -> int:
        """How many Update Records calls."""
        return len(self.calls) - self.mass_update_calls

    @property
    def estimated_credits(self) -> int:
        """The credits the calls cost, at :attr:`costs` (a mass update's cost is a guess)."""
        return sum(self.costs.call_credits(call.kind, len(call.rows)) for call in self.calls)

    def summary(self) -> dict[str, Any]:
        """Return the summary's ``plan`` entry."""
        return {
            "mass_update_calls": self.mass_update_calls,
            "update_calls": self.update_calls,
            "estimated_credits": self.estimated_credits,
            "optimize": self.optimize,
        }

    def describe(self) -> str:
        """Return one line for the log: the calls, the records each kind writes, the estimated credits."""
        mass = [call for call in self.calls if call.kind == MASS_UPDATE]
        mass_records = sum(len(call.rows) for call in mass)
        records = sum(len(call.rows) for call in self.calls)
        values = len({value_key(call.rows[0].values) for call in mass})
        return (
            f"plan for the fewest {self.optimize}: {_count(len(self.calls), 'call')} for "
            f"{_count(records, 'record')}: {_count(len(mass), 'mass update')} "
            f"({_count(mass_records, 'record')}, {_count(values, 'value')}) and "
            f"{_count(self.update_calls, 'Update Records call')} "
            f"({_count(records - mass_records, 'record')}); "
            f"about {_count(self.estimated_credits, 'credit')}, counting "
            f"{_count(self.costs.mass_update_credits, 'credit')} a mass update (Zoho does not document it)"
        )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _cost(costs: Costs, optimize: Optimize, mass_calls: int, pooled: int) -> tuple[int, int]:
    """Return (what is minimised, the tie-breaker) for ``mass_calls`` mass updates and ``pooled`` rows."""
    calls = mass_calls + costs.update_calls(pooled)
    credits = mass_calls * costs.mass_update_credits + costs.update_credits(pooled)
    return (calls, credits) if optimize == "calls" else (credits, calls)


def plan(
    rows: Sequence[Row],
    *,
    optimize: Optimize = "calls",
    costs: Costs | None = None,
    rules: MassRules | None = None,
) -> Plan:
    """
    Plan the calls that write ``rows`` (checked, with ids, one module), the optimum for ``optimize``.

    The same rows give the same plan; each call keeps its rows in input order.

    :param rows: the rows, from :func:`~airflow_crm_provider.runs.rows.check_rows`.
    :param optimize: ``"calls"`` or ``"credits"``: what to minimise (the other breaks ties).
    :param costs: Zoho's limits and costs (defaults: :class:`Costs`).
    :param rules: which rows may go as mass updates (defaults: :class:`MassRules`).
    :raises InputError: if ``optimize`` is neither.
    """
    if optimize not in ("calls", "credits"):
        raise InputError(f"optimize must be 'calls' or 'credits', got {optimize!r}")
    costs = costs or Costs()
    rules = rules or MassRules()
    groups: dict[str, list[Row]] = {}
    pool: list[Row] = []
    for row in rows:
        if row.id is None:
            raise ValueError(f"rows[{row.index}] has no id: only rows with ids can be planned as updates")
        if rules.allows(row.values):
            groups.setdefault(value_key(row.values), []).append(row)
        else:
            pool.append(row)
    members = list(groups.values())
    size = costs.mass_update_ids_per_call
    offers: list[tuple[int, int]] = []  # (rows a call saves, group), best first; ties keep group order
    for group, group_rows in enumerate(members):
        full, rest = divmod(len(group_rows), size)
        offers += [(size, group)] * full + ([(rest, group)] if rest else [])
    offers.sort(key=lambda offer: -offer[0])
    best, best_k, saved = _cost(costs, optimize, 0, len(rows)), 0, 0
    for k, (saves, _) in enumerate(offers, start=1):
        saved += saves
        cost = _cost(costs, optimize, k, len(rows) - saved)
        if cost < best:
            best, best_k = cost, k
    taken = [0] * len(members)
    for _, group in offers[:best_k]:
        taken[group] += 1
    calls: list[Call] = []
    for group_rows, k in zip(members, taken, strict=True):
        covered = min(len(group_rows), k * size)
        calls += [Call(MASS_UPDATE, tuple(group_rows[i : i + size])) for i in range(0, covered, size)]
        pool += group_rows[covered:]
    pool.sort(key=lambda row: row.index)
    step = costs.update_records_per_call
    calls += [Call(UPDATE_RECORDS, tuple(pool[i : i + step])) for i in range(0, len(pool), step)]
    return Plan(calls=tuple(calls), optimize=optimize, costs=costs)


def plan_restore(
    prior: Mapping[str, Mapping[str, Any]],
    *,
    optimize: Optimize = "calls",
    costs: Costs | None = None,
    rules: MassRules | None = None,
) -> Plan:
    """
    Plan putting records back to their prior values, as a revert does.

    Each record becomes a row (its id, its prior values) and goes through :func:`plan`: records whose
    prior values are all different cost ``ceil(N/100)`` Update Records calls, not a mass update per
    value; those sharing a value still go as mass updates where that is cheaper.

    :param prior: record id -> field API name -> the value to restore, in the order to report them.
    :param optimize: ``"calls"`` or ``"credits"``.
    :param costs: Zoho's limits and costs.
    :param rules: which rows may go as mass updates.
    :raises InputError: if a prior value cannot be sent back.
    """
    rows = check_rows([{ID: record_id, **values} for record_id, values in prior.items()])
    return plan(rows, optimize=optimize, costs=costs, rules=rules)
