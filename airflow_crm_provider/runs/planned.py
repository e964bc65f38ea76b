"""
Per-record writes as the ids runner sends them: each record in the call a plan put it in.

:class:`PlannedCalls` turns a :class:`~airflow_crm_provider.runs.planner.Plan` (mass updates and Update
Records calls) into what :func:`~airflow_crm_provider.runs.ids_runner.run_ids_mode` needs: how pending
ids split into calls (a record stays in its kind of call, a mass update's records keep their value),
what a call's ledger key covers (the values it writes, not only its ids) and the ``send(chunk)`` that
makes one call. :class:`UpsertCalls` does the same for Upsert rows, which may have no id: the runner
knows them by their row keys (``#<index>``), and each entry carries the id Zoho gave the record.
No Airflow, no HTTP of its own: the writer is the hook.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from airflow_crm_provider.runs.planner import MASS_UPDATE, OVER_WRITE
from airflow_crm_provider.runs.prior import PriorValues
from airflow_crm_provider.runs.rows import value_key
from airflow_crm_provider.runs.values import holds

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_crm_provider.runs.guarded_reads import RecordReads
    from airflow_crm_provider.runs.planner import CallKind, Plan
    from airflow_crm_provider.runs.rows import Row
    from airflow_crm_provider.zoho.api import ZohoEntry
    from airflow_crm_provider.zoho.record_writes import UpsertEntry

log = logging.getLogger(__name__)


class RecordWriter(Protocol):
    """The calls a planned run makes (the hook's methods)."""

    def mass_update(
        self, module: str, data: Mapping[str, Any], ids: Sequence[str], over_write: bool = False
    ) -> list[ZohoEntry]:
        """Set ``data`` on up to 500 ids."""
        ...

    def update_records(
        self, module: str, rows: Sequence[Mapping[str, Any]], trigger: Sequence[str] | None = None
    ) -> list[ZohoEntry]:
        """Set a value per record on up to 100 records."""
        ...


class Upserter(Protocol):
    """The call an upsert run makes (the hook's method)."""

    def upsert(
        self,
        module: str,
        rows: Sequence[Mapping[str, Any]],
        duplicate_check_fields: Sequence[str],
        trigger: Sequence[str] | None = None,
    ) -> list[UpsertEntry]:
        """Insert or update up to 100 records."""
        ...


@dataclass(frozen=True)
class _Lane:
    """Records sent alike: one mass update value, or Update Records; at most ``size`` a call."""

    kind: CallKind
    data: dict[str, Any] | None
    size: int


def _chunked(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


class PlannedCalls:
    """
    A plan's calls, for the ids runner: the rows by id, and the lane (kind of call) of each.

    :param plan: the plan (its calls hold every row to write).
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rows: dict[str, Row] = {}
        self._lanes: list[_Lane] = []
        self._lane_of: dict[str, int] = {}
        keys: dict[str, int] = {}
        costs = plan.costs
        for call in plan.calls:
            if call.kind == MASS_UPDATE:
                key = value_key(call.data)
                lane = _Lane(MASS_UPDATE, call.data, costs.mass_update_ids_per_call)
            else:
                key, lane = "", _Lane(call.kind, None, costs.update_records_per_call)
            index = keys.setdefault(key, len(self._lanes))
            if index == len(self._lanes):
                self._lanes.append(lane)
            for row in call.rows:
                self.rows[str(row.id)] = row
                self._lane_of[str(row.id)] = index

    @property
    def ids(self) -> list[str]:
        """Every planned record id, in the plan's call order (chunked by :meth:`chunks`, the plan's calls)."""
        return list(self.rows)

    def chunks(self, pending: list[str]) -> list[list[str]]:
        """
        Split ids into calls: each lane's ids in the order given, in chunks of the lane's limit.

        Given :attr:`ids`, these are the plan's calls; given the records a round must re-send, each
        keeps its kind of call and its value.

        :param pending: planned ids.
        """
        by_lane: dict[int, list[str]] = {}
        for record_id in pending:
            by_lane.setdefault(self._lane_of[record_id], []).append(record_id)
        return [c for n, ids in by_lane.items() for c in _chunked(ids, self._lanes[n].size)]

    def content(self, chunk: Sequence[str]) -> list[Any]:
        """
        Return what one call of ``chunk`` writes, for its ledger key: the kind and the values.

        :param chunk: one call's ids.
        """
        lane = self._lanes[self._lane_of[chunk[0]]]
        if lane.data is not None:
            return [lane.kind, value_key(lane.data)]
        return [lane.kind, [value_key(self.rows[i].values) for i in chunk]]

    def sender(self, writer: RecordWriter, module: str, trigger: Sequence[str] | None) -> _PlannedSend:
        """
        Return ``send(chunk) -> entries``: the one call that writes ``chunk``.

        :param writer: the hook.
        :param module: module API name.
        :param trigger: Update Records' ``trigger`` (None: Zoho's default, all automation).
        """
        return _PlannedSend(self, writer, module, trigger)

    def lane_data(self, chunk: Sequence[str]) -> dict[str, Any] | None:
        """Return the value a mass update of ``chunk`` sets, or None for an Update Records call."""
        return self._lanes[self._lane_of[chunk[0]]].data

    def expected(self) -> dict[str, dict[str, Any]]:
        """Return id -> the values the run writes to that record."""
        return {record_id: row.values for record_id, row in self.rows.items()}


class _PlannedSend:
    """One planned call: a mass update of the chunk's value, or Update Records of its rows."""

    def __init__(
        self, calls: PlannedCalls, writer: RecordWriter, module: str, trigger: Sequence[str] | None
    ) -> None:
        self._calls, self._writer, self._module, self._trigger = calls, writer, module, trigger

    def __call__(self, chunk: list[str]) -> list[ZohoEntry]:
        data = self._calls.lane_data(chunk)
        if data is not None:
            return self._writer.mass_update(self._module, data, chunk, over_write=OVER_WRITE)
        rows = [self._calls.rows[i].record() for i in chunk]
        return self._writer.update_records(self._module, rows, self._trigger)


def unchanged_rows(rows: Sequence[Row], prior: PriorValues) -> list[str]:
    """
    Return the ids of the rows whose record already holds every value of the row.

    :param rows: checked rows with ids.
    :param prior: what the records held before the run.
    """
    found = prior.values
    return [
        str(row.id)
        for row in rows
        if row.id in found and all(holds(found[row.id].get(f), v, OVER_WRITE) for f, v in row.values.items())
    ]


def still_unchanged_rows(
    reads: RecordReads, module: str, rows: Sequence[Row], unchanged: list[str], read_before: set[str]
) -> list[str]:
    """
    Return those of ``unchanged`` that still hold their row's values, reading again those an earlier try read.

    An earlier try's reading may be stale (a retry comes minutes later): a record not written must not
    be reported ``UNCHANGED`` from it. If reading fails they are all sent.

    :param reads: the hook's record reads (under the credit floor).
    :param module: module API name.
    :param rows: the run's rows.
    :param unchanged: the ids found unchanged.
    :param read_before: the ids an earlier try read; the others were read by this try, and stand.
    """
    stale = [i for i in unchanged if i in read_before]
    if not stale:
        return unchanged
    by_id = {str(row.id): row for row in rows}
    fields = list(dict.fromkeys(f for i in stale for f in by_id[i].values))
    try:
        found = reads.get_records(module, stale, fields)
    except Exception as err:
        log.warning("Reading %d unchanged record(s) again failed (%s); sending them", len(stale), err)
        found = {}
    still = set(unchanged_rows([by_id[i] for i in stale], PriorValues(values=dict(found))))
    return [i for i in unchanged if i not in read_before or i in still]


def row_key(index: int) -> str:
    """Return the runner's key of upsert row ``index`` (rows may have no id)."""
    return f"#{index}"


class UpsertCalls:
    """
    Upsert rows for the ids runner: known by row keys, chunks of up to ``size`` in input order.

    :param rows: checked upsert rows.
    :param duplicate_check_fields: the fields Zoho matches on.
    :param size: rows per call (at most 100).
    """

    def __init__(self, rows: Sequence[Row], duplicate_check_fields: list[str], size: int) -> None:
        self.rows = {row_key(row.index): row for row in rows}
        self.duplicate_check_fields = duplicate_check_fields
        self.size = size

    @property
    def keys(self) -> list[str]:
        """The row keys, in input order."""
        return list(self.rows)

    def chunks(self, pending: list[str]) -> list[list[str]]:
        """Split row keys into calls of up to :attr:`size`."""
        return _chunked(pending, self.size)

    def content(self, chunk: Sequence[str]) -> list[Any]:
        """Return what one call of ``chunk`` writes (each row's id and values), for its ledger key."""
        return [self.duplicate_check_fields, [value_key(self.rows[k].record()) for k in chunk]]

    def sender(self, writer: Upserter, module: str, trigger: Sequence[str] | None) -> _UpsertSend:
        """
        Return ``send(chunk) -> entries``: one Upsert call, each entry keyed by its row key.

        The entry's ``details`` keep Zoho's ``id`` of the record and the ``action`` (``insert`` or
        ``update``).

        :param writer: the hook.
        :param module: module API name.
        :param trigger: the ``trigger`` (None: Zoho's default, all automation).
        """
        return _UpsertSend(self, writer, module, trigger)


class _UpsertSend:
    def __init__(
        self, calls: UpsertCalls, writer: Upserter, module: str, trigger: Sequence[str] | None
    ) -> None:
        self._calls, self._writer, self._module, self._trigger = calls, writer, module, trigger

    def __call__(self, chunk: list[str]) -> list[ZohoEntry]:
        rows = [self._calls.rows[k].record() for k in chunk]
        got = self._writer.upsert(self._module, rows, self._calls.duplicate_check_fields, self._trigger)
        entries: list[ZohoEntry] = []
        for key, entry in zip(chunk, got, strict=True):
            details = dict(entry["details"])
            if entry["id"] is not None:
                details["id"] = entry["id"]
            if entry.get("action"):
                details["action"] = entry["action"]
            entries.append(
                {
                    "id": key,
                    "status": entry["status"],
                    "code": entry["code"],
                    "message": entry["message"],
                    "details": details,
                }
            )
        return entries
