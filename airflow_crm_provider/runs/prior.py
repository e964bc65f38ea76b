"""
Reads around a write: the prior values before it, and reading back after a lost reply.

Prior values are what target fields hold before a run writes (``skip_unchanged``, ``snapshot``,
revert); :func:`read_back` tells whether records hold the values a call may have written.

All of it is read before the first write, 100 ids per request, and each piece of 500 ids is kept in
the task's state as it is read (:class:`~airflow_crm_provider.runs.ledger.PriorLedger`),
so a retry after a crash reuses the first try's reading instead of reading what the run wrote.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.runs.outcomes import UNCHANGED
from airflow_crm_provider.runs.values import holds
from airflow_crm_provider.zoho.errors import ZohoCRMError, is_final

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from airflow_crm_provider.runs.guarded_reads import RecordReads
    from airflow_crm_provider.runs.ledger import PriorLedger
    from airflow_crm_provider.zoho.api import ZohoEntry

log = logging.getLogger(__name__)

#: Ids per piece read side by side and kept in the task's state (a piece fits one stored value).
PIECE_IDS = 500


@dataclass
class PriorValues:
    """
    The target fields of each requested record before the run wrote.

    :param values: id -> field API name -> value, for the records Zoho returned.
    :param missing: ids Zoho did not return (no such record, or not visible to the user).
    :param reads: record-read requests this try made (pieces reused from an earlier try cost none).
    :param reused: ids whose reading came from an earlier try (kept in the ledger).
    """

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    reads: int = 0
    reused: set[str] = field(default_factory=set)

    def unchanged(self, ids: Sequence[str], data: Mapping[str, Any], over_write: bool) -> list[str]:
        """
        Return the ids whose record already holds every value of ``data`` (found records only).

        :param ids: the requested ids.
        :param data: field API name -> value the run sets.
        :param over_write: the run's ``over_write`` flag.
        """
        return [
            i
            for i in ids
            if i in self.values
            and all(holds(self.values[i].get(name), value, over_write) for name, value in data.items())
        ]

    def snapshot(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return ``{id: {field: prior value}}`` for those of ``ids`` Zoho returned."""
        return {i: self.values[i] for i in ids if i in self.values}


def read_prior(
    hook: RecordReads,
    module: str,
    ids: Sequence[str],
    fields: Sequence[str],
    ledger: PriorLedger,
    *,
    max_concurrency: int = 1,
) -> PriorValues:
    """
    Read the target fields of every id, reusing pieces an earlier try of the task read.

    Pieces of 500 ids are read side by side, at most ``max_concurrency`` at a time, and each is kept
    in the ledger as it completes (from this thread only).

    :param hook: the Zoho CRM hook's record reads (under the credit floor).
    :param module: Zoho module API name.
    :param ids: unique record ids, in input order.
    :param fields: the field API names the run writes.
    :param ledger: where pieces are kept for a retry.
    :param max_concurrency: pieces read at once.
    :raises Exception: the first error reading raised, once the pieces read by then are kept.
    """

    def read(piece: list[str]) -> tuple[dict[str, dict[str, Any] | None], int]:
        got: dict[str, dict[str, Any] | None] = dict.fromkeys(piece)
        reads = 0
        for _, found in hook.iter_records(module, piece, fields):
            reads += 1
            got.update({i: {name: record.get(name) for name in fields} for i, record in found.items()})
        return got, reads

    pieces = [list(ids[i : i + PIECE_IDS]) for i in range(0, len(ids), PIECE_IDS)]
    readings: dict[int, dict[str, dict[str, Any] | None]] = {}
    for n, piece in enumerate(pieces):
        stored = ledger.get(piece)
        if stored is not None:
            readings[n] = stored
    reused = sum(len(pieces[n]) for n in readings)
    todo = [n for n in range(len(pieces)) if n not in readings]
    prior = PriorValues(reused={i for n in readings for i in pieces[n]})
    error: BaseException | None = None
    if todo:
        with ThreadPoolExecutor(
            max_workers=min(max_concurrency, len(todo)), thread_name_prefix="zoho-read-first"
        ) as pool:
            futures = {pool.submit(read, pieces[n]): n for n in todo}
            for future in as_completed(futures):
                try:
                    got, reads = future.result()
                except Exception as err:  # keep what completed, start nothing more, then raise
                    error = error or err
                    for pending in futures:
                        pending.cancel()
                    continue
                n = futures[future]
                readings[n], prior.reads = got, prior.reads + reads
                ledger.put(pieces[n], got)
    if error is not None:
        raise error
    for n, piece in enumerate(pieces):
        for record_id in piece:
            values = readings[n].get(record_id)
            if values is None:
                prior.missing.append(record_id)
            else:
                prior.values[record_id] = values
    if reused:
        log.info("%d record(s) were read before writing in an earlier try; using that reading", reused)
    log.info(
        "Read %d record(s) before writing (%d request(s)): %d found, %d not found",
        len(ids),
        prior.reads,
        len(prior.values),
        len(prior.missing),
    )
    return prior


def still_unchanged(
    hook: RecordReads,
    module: str,
    ids: Sequence[str],
    data: Mapping[str, Any],
    over_write: bool,
    read_before: set[str],
) -> list[str]:
    """
    Return those of ``ids`` that still hold every value of ``data``, reading again those an earlier try read.

    An earlier try's reading found them unchanged; they may have moved since (a retry comes minutes
    later), and a record not written must not be reported ``UNCHANGED`` from a stale reading. If
    reading fails they are all sent: writing a value a record holds is harmless, a false report is not.

    :param hook: the Zoho CRM hook's record reads (under the credit floor).
    :param module: Zoho module API name.
    :param ids: the records found unchanged (none of them written by this run).
    :param data: field API name -> value the run sets.
    :param over_write: the run's ``over_write`` flag.
    :param read_before: the ids an earlier try read; the others were read by this try, and stand.
    """
    stale = [i for i in ids if i in read_before]
    if not stale:
        return list(ids)
    try:
        found = hook.get_records(module, stale, list(data))
    except Exception as err:
        log.warning("Reading %d unchanged record(s) again failed (%s); sending them", len(stale), err)
        found = {}
    now = PriorValues(values={i: found[i] for i in stale if i in found})
    still = set(now.unchanged(stale, data, over_write))
    if len(still) < len(stale):
        moved = len(stale) - len(still)
        log.info("%d record(s) no longer hold the value(s) since an earlier try read them", moved)
    return [i for i in ids if i not in read_before or i in still]


def unchanged_entry(
    record_id: str, message: str = "already holds the value(s) to set; not sent"
) -> ZohoEntry:
    """Return the entry of a record left out of the write because it already held the value(s)."""
    return {"id": record_id, "status": "unchanged", "code": UNCHANGED, "message": message, "details": {}}


def read_failure(err: BaseException) -> tuple[str, BaseException | None]:
    """
    Return the reason a run stops when reading before writing failed, and the error to retry on, if any.

    :param err: what reading raised.
    """
    text = err.describe() if isinstance(err, ZohoCRMError) else f"{type(err).__name__}: {err}"
    reason = f"reading the records before writing failed, nothing was written: {text}"
    return reason, None if is_final(err) else err


def read_back(
    hook: RecordReads, *, module: str, data: Mapping[str, Any], over_write: bool
) -> Callable[[list[str]], dict[str, bool]]:
    """
    Return ``ids -> {id: whether the record holds data's values}``, reading the target fields only.

    :param hook: the Zoho CRM hook's record reads (under the credit floor).
    :param module: Zoho module API name.
    :param data: field API name -> value the run sets.
    :param over_write: the run's ``over_write`` flag.
    """
    fields = list(data)

    def check(ids: list[str]) -> dict[str, bool]:
        found = hook.get_records(module, ids, fields)
        return {
            i: i in found
            and all(holds(found[i].get(name), value, over_write) for name, value in data.items())
            for i in ids
        }

    return check


def read_back_rows(
    hook: RecordReads, *, module: str, expected: Mapping[str, Mapping[str, Any]]
) -> Callable[[list[str]], dict[str, bool]]:
    """
    Return ``ids -> {id: whether the record holds its own values}``, for a run with a value per record.

    Only the fields the ids' rows set are read; multi-select values count as replaced.

    :param hook: the Zoho CRM hook's record reads (under the credit floor).
    :param module: Zoho module API name.
    :param expected: id -> field API name -> the value the run sets on that record.
    """

    def check(ids: list[str]) -> dict[str, bool]:
        fields = list(dict.fromkeys(name for i in ids for name in expected[i]))
        found = hook.get_records(module, ids, fields)
        return {
            i: i in found and all(holds(found[i].get(name), v, True) for name, v in expected[i].items())
            for i in ids
        }

    return check
