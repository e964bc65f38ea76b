"""
Revert: restore the values a snapshot kept, for the records a mass update or Update Records changed.

Airflow-free, like the other runners. The records are read first (kept in the task's state, so a
retry plans from the same reading); a record that still holds what the run set goes back to its
prior value. The calls are planned (:mod:`~airflow_crm_provider.runs.planner`): Update Records with
each record's prior values, 100 a call, and mass updates only where enough records share one value,
so N records with distinct prior values cost about N/100 calls. A record someone changed since is
left alone (``CHANGED_SINCE``) unless ``force``; one already back at its prior value is not sent
(``UNCHANGED``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.runs.inputs import InputError, parse_data, parse_ids
from airflow_crm_provider.runs.outcomes import (
    Decision,
    RunResult,
    build_records,
    decide,
    error_entry,
    summarize,
)
from airflow_crm_provider.runs.planned import PlannedCalls
from airflow_crm_provider.runs.planner import Costs, MassRules, plan_restore
from airflow_crm_provider.runs.prior import unchanged_entry
from airflow_crm_provider.runs.rows import check_rows
from airflow_crm_provider.runs.values import after_write, holds
from airflow_crm_provider.zoho.settings import MAX_RECORDS_PER_WRITE

if TYPE_CHECKING:
    from airflow_crm_provider.runs.ids_runner import IdsRun
    from airflow_crm_provider.runs.outcomes import Thresholds
    from airflow_crm_provider.runs.planner import Optimize
    from airflow_crm_provider.runs.prior import PriorValues
    from airflow_crm_provider.zoho.api import ZohoEntry

log = logging.getLogger(__name__)

#: Our code for a record changed by someone else after the run a revert undoes (class soft).
CHANGED_SINCE = "CHANGED_SINCE"


@dataclass(frozen=True)
class RevertSource:
    """
    What the run being undone wrote, and what the records held before it.

    :param module: the module it wrote.
    :param data: field API name -> the value a mass update set (empty for a value per record).
    :param over_write: its ``over_write`` flag.
    :param prior: id -> field API name -> the value before it wrote (the ``snapshot`` XCom).
    :param written: id -> field API name -> the value it set, for a run with a value per record
        (Update Records: the ``written`` XCom); None for a mass update.
    """

    module: str
    data: dict[str, Any]
    over_write: bool
    prior: dict[str, dict[str, Any]]
    written: dict[str, dict[str, Any]] | None = None

    @property
    def fields(self) -> list[str]:
        """The fields the run wrote (every record's, for a value per record)."""
        if self.written is None:
            return list(self.data)
        return list(dict.fromkeys(f for values in self.prior.values() for f in values))

    def wrote(self, record_id: str) -> dict[str, Any]:
        """Return the values the run set on ``record_id``."""
        return self.data if self.written is None else self.written[record_id]

    @classmethod
    def from_xcoms(cls, task_id: str, summary: Any, snapshot: Any, written: Any = None) -> RevertSource:
        """
        Check the source task's ``return_value``, ``snapshot`` and ``written`` XComs.

        :param task_id: the source task, for messages.
        :param summary: its ``return_value`` (the summary).
        :param snapshot: its ``snapshot`` XCom.
        :param written: its ``written`` XCom (a run with a value per record), if any.
        :raises InputError: naming what is missing or unusable.
        """
        if not isinstance(summary, dict) or not isinstance(summary.get("module"), str):
            raise InputError(
                f"task {task_id!r} pushed no mass update or Update Records summary (return_value) in this run"
            )
        info = summary.get("snapshot")
        if not isinstance(info, dict) or not isinstance(info.get("data"), dict):
            raise InputError(f"task {task_id!r} took no snapshot: run it with snapshot=True to revert it")
        if not isinstance(snapshot, dict):
            raise InputError(f"task {task_id!r} pushed no snapshot XCom (key 'snapshot') in this run")
        per_record = not info["data"]
        if per_record and not isinstance(written, dict):
            raise InputError(f"task {task_id!r} pushed no 'written' XCom with its snapshot in this run")
        data = parse_data(info["data"]) if not per_record else {}
        ids = parse_ids(list(snapshot)).ids
        if len(ids) != len(snapshot):
            raise InputError(f"the snapshot of {task_id!r} holds keys that are not record ids")
        prior: dict[str, dict[str, Any]] = {}
        wrote: dict[str, dict[str, Any]] = {}
        for record_id, values in zip(ids, snapshot.values(), strict=True):
            expected: Any = data
            if per_record:
                expected = written.get(record_id) if isinstance(written, dict) else None
                if not isinstance(expected, dict) or not expected:
                    raise InputError(f"the 'written' XCom of {task_id!r} has no values of record {record_id}")
                wrote[record_id] = check_rows([{"id": record_id, **expected}])[0].values
            if not isinstance(values, dict) or set(values) != set(expected):
                raise InputError(
                    f"the snapshot of {task_id!r} holds no prior value of {sorted(expected)} "
                    f"for record {record_id}"
                )
            prior[record_id] = check_rows([{"id": record_id, **values}])[0].values
        over_write = True if per_record else bool(info.get("over_write"))
        return cls(summary["module"], data, over_write, prior, wrote if per_record else None)


@dataclass
class RevertPlan:
    """
    What a revert sends, and the records it leaves.

    :param restore: id -> the prior values to put back, in snapshot order.
    :param left: id -> the entry of a record not sent (``UNCHANGED``, ``CHANGED_SINCE``).
    """

    restore: dict[str, dict[str, Any]]
    left: dict[str, ZohoEntry]


def plan_revert(source: RevertSource, current: PriorValues, *, force: bool = False) -> RevertPlan:
    """
    Decide for each snapshot record: restore it, leave it unchanged, or leave it changed since.

    :param source: what the run wrote and what the records held before.
    :param current: the target fields as they are now.
    :param force: restore records changed since the run as well.
    """
    restore: dict[str, dict[str, Any]] = {}
    left: dict[str, ZohoEntry] = {}
    for record_id, prior in source.prior.items():
        now = current.values.get(record_id)
        if now is not None and all(holds(now.get(f), v, True) for f, v in prior.items()):
            left[record_id] = unchanged_entry(record_id, "already holds its value from before the run")
            continue
        if not force:
            if now is None:
                left[record_id] = _changed(record_id, "no longer found (deleted, or not visible to the user)")
                continue
            moved = [
                f
                for f, new in source.wrote(record_id).items()
                if not holds(now.get(f), after_write(prior[f], new, source.over_write), True)
            ]
            if moved:
                left[record_id] = _changed(record_id, f"{', '.join(moved)} changed since the run; left alone")
                continue
        restore[record_id] = prior
    return RevertPlan(restore, left)


def _changed(record_id: str, message: str) -> ZohoEntry:
    return error_entry(record_id, CHANGED_SINCE, f"{message} (force=True restores it anyway)")


def restore_calls(
    plan: RevertPlan, module: str, batch_size: int | None = None, *, optimize: Optimize = "calls"
) -> PlannedCalls:
    """
    Plan the calls that put the records back (:func:`~airflow_crm_provider.runs.planner.plan_restore`).

    Update Records with each record's prior values, mass updates where many records share one.

    :param plan: what the revert restores.
    :param module: the module (Deals takes 3 fields a mass update).
    :param batch_size: ids per mass update call, and per Update Records call up to its 100 (None: the limits).
    :param optimize: what the calls minimise.
    """
    costs = Costs()
    if batch_size is not None:
        costs = Costs(
            mass_update_ids_per_call=batch_size,
            update_records_per_call=min(batch_size, MAX_RECORDS_PER_WRITE),
        )
    rules = MassRules.for_module(module)
    return PlannedCalls(plan_restore(plan.restore, optimize=optimize, costs=costs, rules=rules))


def revert_result(
    source: RevertSource, plan: RevertPlan, run: IdsRun | None, thresholds: Thresholds, overrides: Any
) -> RunResult:
    """
    Return the records (one per snapshot id), summary and decision of a revert.

    :param source: what was reverted.
    :param plan: what was sent and left.
    :param run: the run of the restoring calls (None: nothing to restore).
    :param thresholds: the user's thresholds.
    :param overrides: the user's per-code classes.
    """
    entries: dict[str, ZohoEntry] = dict(plan.left)
    if run is not None:
        entries.update(run.entries)
    ids = list(source.prior)
    records = build_records(ids, entries, overrides, missing_message="not sent: the revert stopped first")
    summary = summarize(source.module, "revert", records)
    request_error = run.request_error if run is not None else None
    stop_error = run.stop_error if run is not None else None
    decision = decide(summary, thresholds, request_error=request_error)
    if not ids:
        decision = Decision("skipped", "the snapshot holds no record: the run changed nothing to revert")
    retryable = stop_error if request_error is None else None
    return RunResult(summary, records, decision, retryable=retryable, final=False)
