"""
Resuming an ids-mode run from the task's state, and settling calls whose reply was lost.

What earlier tries recorded in the :class:`~airflow_crm_provider.runs.ledger.ChunkLedger` stands only
as far as it is still true: a record recorded as updated is read back before it is claimed again (a
revert or another change since sends it again). A call that may have been applied but got no reply is
settled by reading its records back, and each record's answer is kept in the ledger, so no try sends
again a record the read-back showed applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_crm_provider.runs.outcomes import NOT_SENT, SUCCESS, error_entry

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_crm_provider.runs.ledger import ChunkLedger
    from airflow_crm_provider.zoho.api import ZohoEntry

    #: ids -> whether each record holds the values the run sets
    ReadBack = Callable[[list[str]], dict[str, bool]]

log = logging.getLogger(__name__)


@dataclass
class Resumed:
    """
    What earlier tries recorded for a round, as far as it stands, and what the round must still send.

    :param entries: id -> the entry an earlier try recorded, for the ids not sent again.
    :param resumed: ids taken from earlier tries (and confirmed, when a read-back is given).
    :param to_send: the chunks to send: the leftovers of every chunk together, in full chunks.
    :param error: a read-back that failed; the run stops, sending nothing more (what earlier tries
        recorded stays reported, unconfirmed).
    """

    entries: dict[str, ZohoEntry] = field(default_factory=dict)
    resumed: int = 0
    to_send: list[list[str]] = field(default_factory=list)
    error: Exception | None = None


def resume_round(
    ledger: ChunkLedger,
    round_no: int,
    pending: list[str],
    chunks: Callable[[list[str]], list[list[str]]],
    settled: Callable[[ZohoEntry], bool],
    read_back: ReadBack | None,
) -> Resumed:
    """
    Take what earlier tries recorded for a round's chunks; return it with the chunks still to send.

    Updated records (confirmed by reading them back, when a read-back is given), and records re-sent
    by the next round anyway (``RECORD_LOCKED``), are taken as recorded. The others (skipped, failed,
    no result, or no longer holding the value) were not applied, so they go out again, the leftovers
    of every chunk together in full chunks (of one kind of call each, as ``chunks`` splits them).
    Those chunks are found the same way from the same records, so each pass looks up what the chunks
    of the pass before left.

    :param ledger: replies of chunks earlier tries sent.
    :param round_no: the round (0: the first send, then the re-sends).
    :param pending: the round's ids, in input order.
    :param chunks: splits ids into calls (chunks of the batch size, or a plan's calls).
    :param settled: whether a recorded entry stands (updated, or re-sent by the next round anyway).
    :param read_back: confirms what earlier tries recorded as updated (None: taken as recorded).
    """
    found = Resumed()
    order = {record_id: n for n, record_id in enumerate(pending)}
    todo = chunks(pending)
    while True:
        left: list[str] = []
        for chunk in todo:
            left += _resume_chunk(found, ledger, round_no, chunk, settled, read_back)
            if found.error is not None:
                return found
        if len(left) == sum(len(c) for c in todo):  # nothing more was found: send these
            found.to_send = todo
            return found
        todo = chunks(sorted(left, key=order.__getitem__))


def _resume_chunk(
    found: Resumed,
    ledger: ChunkLedger,
    round_no: int,
    chunk: list[str],
    settled: Callable[[ZohoEntry], bool],
    read_back: ReadBack | None,
) -> list[str]:
    """Take what an earlier try recorded for ``chunk`` into ``found``; return its ids to send."""
    stored = ledger.get(round_no, chunk)
    if stored is None:
        return chunk
    kept = {i: e for i, e in zip(chunk, stored, strict=True) if settled(e)}
    claimed = [i for i, e in kept.items() if e["code"] == SUCCESS]
    if claimed and read_back is not None:
        try:
            holds = read_back(claimed)
        except Exception as err:  # what earlier tries recorded stands unconfirmed; nothing more is sent
            log.warning("Reading back %d record(s) an earlier try updated failed: %s", len(claimed), err)
            found.entries.update(kept)
            found.error = err
            return [i for i in chunk if i not in kept]
        moved = [i for i in claimed if not holds.get(i, False)]
        for record_id in moved:
            del kept[record_id]
        if moved:
            log.warning(
                "%d record(s) an earlier try updated no longer hold the value(s) (reverted or changed "
                "since); sending them again",
                len(moved),
            )
    found.entries.update(kept)
    found.resumed += len(kept)
    return [i for i in chunk if i not in kept]


def settle_unconfirmed(
    unconfirmed: list[tuple[int, list[str]]], read_back: ReadBack, ledger: ChunkLedger
) -> dict[str, ZohoEntry]:
    """
    Settle calls whose reply was lost by reading their records back: each id is applied or not applied.

    Each record's answer is kept in the ledger, so no try sends again a record the read-back showed
    applied (those not applied are sent again). The first reading that fails ends the reading: Zoho
    is not answering, so that chunk and the rest keep ``UNCONFIRMED`` at once instead of each
    waiting out the hook's retries.

    :param unconfirmed: (round, chunk) of the calls that may have been applied but got no reply.
    :param read_back: ids -> whether each record holds the values the run set.
    :param ledger: where the answers are kept.
    :return: id -> entry, for the ids settled.
    """
    settled: dict[str, ZohoEntry] = {}
    total = sum(len(chunk) for _, chunk in unconfirmed)
    log.info("Reading back %d record(s) of %d call(s) whose reply was lost", total, len(unconfirmed))
    for round_no, chunk in unconfirmed:
        try:
            holds = read_back(chunk)
        except Exception as err:  # the records keep UNCONFIRMED: nothing is claimed
            log.warning(
                "Reading back failed (%s); %d record(s) stay UNCONFIRMED: Zoho may have applied them",
                err,
                total - len(settled),
            )
            break
        entries = [_read_back_entry(i, holds.get(i, False)) for i in chunk]
        settled.update(zip(chunk, entries, strict=True))
        ledger.put(round_no, chunk, entries)
        log.info("Read back %d of %d record(s)", len(settled), total)
    return settled


def chunked(ids: list[str], size: int) -> list[list[str]]:
    """Return ``ids`` in chunks of ``size`` (the last one shorter)."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _read_back_entry(record_id: str, holds: bool) -> ZohoEntry:
    if holds:
        return {
            "id": record_id,
            "status": "success",
            "code": SUCCESS,
            "message": "applied: the call failed or its reply was lost, and reading the record back "
            "shows the new value(s)",
            "details": {"id": record_id, "confirmed_by": "read_back"},
        }
    return error_entry(
        record_id,
        NOT_SENT,
        "not applied: the reply was lost, and reading the record back shows the old value(s)",
    )
