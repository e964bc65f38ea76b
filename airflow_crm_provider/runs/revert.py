"""
Revert: restore the values a snapshot kept, for the records a mass update changed.

Airflow-free, like the other runners. The records are read first (kept in the task's state, so a
retry plans from the same reading); a record that still holds what the run set goes back to its
prior value, grouped by that value so that each group is one mass update per 500 ids. A record
someone changed since is left alone (``CHANGED_SINCE``) unless ``force``; one already back at its
prior value is not sent (``UNCHANGED``).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.runs.ids_runner import IdsRun, run_ids_mode
from airflow_crm_provider.runs.inputs import InputError, parse_data, parse_ids
from airflow_crm_provider.runs.ledger import fingerprint
from airflow_crm_provider.runs.outcomes import (
    Decision,
    RunResult,
    build_records,
    decide,
    error_entry,
    summarize,
)
from airflow_crm_provider.runs.prior import unchanged_entry
from airflow_crm_provider.runs.values import after_write, holds

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_crm_provider.runs.ids_runner import IdsSettings
    from airflow_crm_provider.runs.ledger import ChunkLedger
    from airflow_crm_provider.runs.outcomes import Thresholds
    from airflow_crm_provider.runs.prior import PriorValues
    from airflow_crm_provider.zoho.api import ZohoEntry
    from airflow_crm_provider.zoho.errors import ErrorClass

log = logging.getLogger(__name__)

#: Our code for a record changed by someone else after the run a revert undoes (class soft).
CHANGED_SINCE = "CHANGED_SINCE"


@dataclass(frozen=True)
class RevertSource:
    """
    What the mass update being undone wrote, and what the records held before it.

    :param module: the module it wrote.
    :param data: field API name -> the value it set.
    :param over_write: its ``over_write`` flag.
    :param prior: id -> field API name -> the value before it wrote (the ``snapshot`` XCom).
    """

    module: str
    data: dict[str, Any]
    over_write: bool
    prior: dict[str, dict[str, Any]]

    @classmethod
    def from_xcoms(cls, task_id: str, summary: Any, snapshot: Any) -> RevertSource:
        """
        Check the source task's ``return_value`` and ``snapshot`` XComs (raises :class:`InputError`).

        :param task_id: the source task, for messages.
        :param summary: its ``return_value`` (the summary).
        :param snapshot: its ``snapshot`` XCom.
        """
        if not isinstance(summary, dict) or not isinstance(summary.get("module"), str):
            raise InputError(f"task {task_id!r} pushed no mass update summary (return_value) in this run")
        info = summary.get("snapshot")
        if not isinstance(info, dict) or not isinstance(info.get("data"), dict):
            raise InputError(f"task {task_id!r} took no snapshot: run it with snapshot=True to revert it")
        if not isinstance(snapshot, dict):
            raise InputError(f"task {task_id!r} pushed no snapshot XCom (key 'snapshot') in this run")
        data = parse_data(info["data"])
        prior: dict[str, dict[str, Any]] = {}
        ids = parse_ids(list(snapshot)).ids
        if len(ids) != len(snapshot):
            raise InputError(f"the snapshot of {task_id!r} holds keys that are not record ids")
        for record_id, values in zip(ids, snapshot.values(), strict=True):
            if not isinstance(values, dict) or set(values) != set(data):
                raise InputError(
                    f"the snapshot of {task_id!r} holds no prior value of {sorted(data)} "
                    f"for record {record_id}"
                )
            prior[record_id] = parse_data(values)
        return cls(summary["module"], data, bool(info.get("over_write")), prior)


@dataclass
class RevertPlan:
    """
    What a revert sends: groups of records sharing one prior value, and the records it leaves.

    :param groups: the prior values to restore -> the ids that get them back, in snapshot order.
    :param left: id -> the entry of a record not sent (``UNCHANGED``, ``CHANGED_SINCE``).
    """

    groups: list[tuple[dict[str, Any], list[str]]]
    left: dict[str, ZohoEntry]


def plan_revert(source: RevertSource, current: PriorValues, *, force: bool = False) -> RevertPlan:
    """
    Decide for each snapshot record: restore it, leave it unchanged, or leave it changed since.

    :param source: what the run wrote and what the records held before.
    :param current: the target fields as they are now.
    :param force: restore records changed since the run as well.
    """
    groups: dict[str, tuple[dict[str, Any], list[str]]] = {}
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
                for f, new in source.data.items()
                if not holds(now.get(f), after_write(prior[f], new, source.over_write), True)
            ]
            if moved:
                left[record_id] = _changed(record_id, f"{', '.join(moved)} changed since the run; left alone")
                continue
        groups.setdefault(fingerprint(prior), (prior, []))[1].append(record_id)
    return RevertPlan(list(groups.values()), left)


def _changed(record_id: str, message: str) -> ZohoEntry:
    return error_entry(record_id, CHANGED_SINCE, f"{message} (force=True restores it anyway)")


def run_revert(
    plan: RevertPlan,
    send: Callable[[dict[str, Any], list[str]], list[ZohoEntry]],
    settings: IdsSettings,
    ledger_for: Callable[[dict[str, Any]], ChunkLedger],
    overrides: Mapping[str, ErrorClass] | None = None,
    *,
    read_back_for: Callable[[dict[str, Any]], Callable[[list[str]], dict[str, bool]]] | None = None,
) -> list[IdsRun]:
    """
    Send every group as an ids-mode run, with at most ``settings.max_concurrency`` calls in flight in all.

    With fewer groups than the limit each group gets a share of it; with more, groups run side by
    side one call at a time. Once a group stops (a request-level fail or a transient error), groups
    not started yet are not sent.

    :param plan: the groups to send.
    :param send: ``(values, ids) -> entries``: one mass update of ``values`` (``over_write=True``).
    :param settings: chunking, concurrency and re-send settings.
    :param ledger_for: the ledger of a group's values (crash safety across tries).
    :param overrides: the user's per-code classes.
    :param read_back_for: a group's values -> its read-back (settles calls whose reply was lost).
    """
    limit = settings.max_concurrency
    side_by_side = max(1, min(limit, len(plan.groups)))
    share = replace(settings, max_concurrency=max(1, limit // side_by_side))
    stopped = threading.Event()

    def restore(values: dict[str, Any], ids: list[str]) -> IdsRun:
        if stopped.is_set():
            return IdsRun()  # not sent: its records come out NOT_SENT
        check = read_back_for(values) if read_back_for is not None else None
        run = run_ids_mode(
            lambda chunk: send(values, chunk), ids, share, ledger_for(values), overrides, read_back=check
        )
        if run.stopped:
            stopped.set()
        return run

    if not plan.groups:
        return []
    with ThreadPoolExecutor(max_workers=side_by_side, thread_name_prefix="zoho-revert") as pool:
        return list(pool.map(lambda group: restore(*group), plan.groups))


def revert_result(
    source: RevertSource, plan: RevertPlan, runs: list[IdsRun], thresholds: Thresholds, overrides: Any
) -> RunResult:
    """
    Return the records (one per snapshot id), summary and decision of a revert.

    :param source: what was reverted.
    :param plan: what was sent and left.
    :param runs: one run per group, in plan order.
    :param thresholds: the user's thresholds.
    :param overrides: the user's per-code classes.
    """
    entries: dict[str, ZohoEntry] = dict(plan.left)
    for run in runs:
        entries.update(run.entries)
    ids = list(source.prior)
    records = build_records(ids, entries, overrides, missing_message="not sent: the revert stopped first")
    summary = summarize(source.module, "revert", records)
    request_error = next((r.request_error for r in runs if r.request_error is not None), None)
    stop_error = next((r.stop_error for r in runs if r.stop_error is not None), None)
    decision = decide(summary, thresholds, request_error=request_error)
    if not ids:
        decision = Decision("skipped", "the snapshot holds no record: the run changed nothing to revert")
    retryable = stop_error if request_error is None else None
    return RunResult(summary, records, decision, retryable=retryable, final=False)
