"""
Ids mode: send chunks of record ids with bounded concurrency, re-send retry-class records, stop early.

The runner of every batched write action (:class:`~airflow_crm_provider.zoho.calls.WriteAction`),
independent of Airflow: it gets a ``send(chunk) -> entries`` callable (one call of the action, e.g.
the hook's ``mass_update``), a :class:`~airflow_crm_provider.runs.ledger.ChunkLedger` and the
user's error classes, and returns what Zoho said about each id plus what (if anything) stopped it.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from airflow_crm_provider.runs.collector import collection_paused
from airflow_crm_provider.runs.maybe_applied import may_have_applied, unreadable_reply
from airflow_crm_provider.runs.outcomes import (
    NO_RESULT,
    NOT_SENT,
    SUCCESS,
    UNCONFIRMED,
    RunResult,
    build_records,
    decide,
    error_entry,
    is_resendable,
    rejection_class,
    summarize,
)
from airflow_crm_provider.runs.resume import chunked, resume_round, settle_unconfirmed
from airflow_crm_provider.zoho.errors import (
    CREDIT_ERRORS,
    ErrorClass,
    ZohoCRMError,
    is_final,
)
from airflow_crm_provider.zoho.retries import backoff

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from airflow_crm_provider.runs.ledger import ChunkLedger
    from airflow_crm_provider.runs.outcomes import Thresholds
    from airflow_crm_provider.zoho.api import ZohoEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdsSettings:
    """
    How ids are sent.

    :param batch_size: ids per call (at most the action's batch limit); ``None`` sends each round's
        ids in one call.
    :param max_concurrency: calls in flight at once.
    :param locked_retries: re-sends of retry-class records (``RECORD_LOCKED``) before they count as skipped.
    :param locked_retry_delay: first wait before a re-send, in seconds (doubles each round, with jitter).
    :param max_locked_retry_delay: cap of that wait, in seconds.
    """

    batch_size: int | None = None
    max_concurrency: int = 4
    locked_retries: int = 3
    locked_retry_delay: float = 5.0
    max_locked_retry_delay: float = 60.0

    def resend_delay(self, round_no: int) -> float:
        """Return the wait before re-send ``round_no`` (1-based)."""
        return backoff(self.locked_retry_delay, round_no, cap=self.max_locked_retry_delay)


@dataclass
class IdsRun:
    """
    What happened to the ids.

    :param entries: id -> Zoho's entry (ids never sent are absent or carry ``NOT_SENT``).
    :param request_error: a fail-class request-level error that stopped the run.
    :param stop_error: a transient (or unexpected) error that stopped the run; Airflow retries apply.
    :param calls: write calls made by this try.
    :param resumed: ids whose result came from an earlier try.
    :param unconfirmed: chunks sent whose reply was lost (not yet read back).
    """

    entries: dict[str, ZohoEntry] = field(default_factory=dict)
    request_error: ZohoCRMError | None = None
    stop_error: BaseException | None = None
    calls: int = 0
    resumed: int = 0
    #: (round, chunk) of calls that may have been applied but got no reply
    unconfirmed: list[tuple[int, list[str]]] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        """Whether the run stopped before every id got a final answer."""
        return self.request_error is not None or self.stop_error is not None

    def merge(self, chunk: Sequence[str], entries: Sequence[ZohoEntry]) -> None:
        """Record one entry per id of ``chunk``."""
        for record_id, entry in zip(chunk, entries, strict=True):
            self.entries[record_id] = entry


def run_ids_mode(
    send: Callable[[list[str]], list[ZohoEntry]],
    ids: Sequence[str],
    settings: IdsSettings,
    ledger: ChunkLedger,
    overrides: Mapping[str, ErrorClass] | None = None,
    *,
    read_back: Callable[[list[str]], dict[str, bool]] | None = None,
    chunks: Callable[[list[str]], list[list[str]]] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> IdsRun:
    """
    Send every id once, then re-send retry-class records up to ``settings.locked_retries`` times.

    :param send: sends one chunk (at most ``settings.batch_size`` ids) and returns one entry per id.
    :param ids: unique record ids, in input order.
    :param settings: chunking, concurrency and re-send settings.
    :param ledger: replies of chunks earlier tries sent (reused, not re-sent).
    :param overrides: the user's per-code classes.
    :param read_back: ids -> whether each record holds the new values; settles calls whose reply was
        lost (``UNCONFIRMED`` otherwise), and confirms what earlier tries recorded as updated before
        it is claimed again.
    :param chunks: splits ids into calls (a plan's calls, see :mod:`~airflow_crm_provider.runs.planned`);
        default: chunks of ``settings.batch_size``. Each chunk is one ``send``; the same ids must split
        the same way in every try, so a retry finds each call's reply in the ledger.
    :param sleep: waits between re-send rounds (injected by tests).
    """
    chunker = chunks or partial(_fixed_chunks, size=settings.batch_size)
    runner = _IdsRunner(send, settings, ledger, dict(overrides or {}), sleep, chunker, read_back)
    with collection_paused():  # 500-entry replies decode into many small dicts, none of them cyclic
        run = runner.run(list(ids))
        if read_back is not None and run.unconfirmed:
            runner.confirm(read_back)
    return run


def ids_result(
    module: str,
    ids: Sequence[str],
    run: IdsRun,
    thresholds: Thresholds,
    overrides: Mapping[str, ErrorClass] | None = None,
) -> RunResult:
    """
    Return the records, summary and decision of an ids-mode run.

    :param module: Zoho module API name.
    :param ids: the requested ids, in input order.
    :param run: what :func:`run_ids_mode` returned.
    :param thresholds: the user's thresholds.
    :param overrides: the user's per-code classes.
    """
    records = build_records(ids, run.entries, overrides)
    summary = summarize(module, "ids", records)
    decision = decide(summary, thresholds, request_error=run.request_error)
    retryable = run.stop_error if run.request_error is None else None
    # the replies stay in the task's state (Airflow expires them): a try after this one, a retry
    # after a crash at the very end or a clear, sends only the records Zoho did not update
    return RunResult(summary, records, decision, retryable=retryable, final=False)


class _IdsRunner:
    """One run's rounds: resume from the ledger, send the rest, collect, stop on a stop error."""

    def __init__(
        self,
        send: Callable[[list[str]], list[ZohoEntry]],
        settings: IdsSettings,
        ledger: ChunkLedger,
        overrides: dict[str, ErrorClass],
        sleep: Callable[[float], None],
        chunks: Callable[[list[str]], list[list[str]]],
        read_back: Callable[[list[str]], dict[str, bool]] | None = None,
    ) -> None:
        self._send = send
        self._chunks = chunks
        self._read_back = read_back
        self._settings = settings
        self._ledger = ledger
        self._overrides = overrides
        self._sleep = sleep
        self._round_no = 0
        self.result = IdsRun()

    def run(self, pending: list[str]) -> IdsRun:
        last = self._settings.locked_retries
        for round_no in range(last + 1):
            self._round_no = round_no
            self._round(round_no, pending)
            if self.result.stopped:
                break
            retry = [i for i in pending if is_resendable(self.result.entries[i]["code"], self._overrides)]
            if not retry:
                break
            if round_no == last:
                log.warning(
                    "%d record(s) still got a retry-class code after %d re-send(s); they count as skipped",
                    len(retry),
                    last,
                )
                break
            log.info("%d record(s) got a retry-class code (e.g. RECORD_LOCKED); re-sending them", len(retry))
            pending = retry
        return self.result

    def _round(self, round_no: int, pending: list[str]) -> None:
        """Send one round's chunks, less the records an earlier try got Zoho's reply for."""
        found = resume_round(self._ledger, round_no, pending, self._chunks, self._settled, self._read_back)
        self.result.entries.update(found.entries)
        self.result.resumed += found.resumed
        if found.resumed:
            log.info(
                "Round %d: %d record(s) were answered in an earlier try; not sending them again",
                round_no,
                found.resumed,
            )
        if found.error is not None:
            if isinstance(found.error, CREDIT_ERRORS):
                self.result.request_error = self.result.request_error or found.error
            else:
                self.result.stop_error = self.result.stop_error or found.error
            return
        if not found.to_send:
            return
        if round_no:
            delay = self._settings.resend_delay(round_no)
            log.info("Waiting %.1f s before re-send %d", delay, round_no)
            self._sleep(delay)
        self._send_chunks(round_no, found.to_send)

    def _settled(self, entry: ZohoEntry) -> bool:
        """Whether a recorded entry stands (updated, or re-sent by the next round anyway)."""
        return entry["code"] == SUCCESS or is_resendable(entry["code"], self._overrides)

    def _send_chunks(self, round_no: int, to_send: list[list[str]]) -> None:
        """Send chunks with at most ``max_concurrency`` in flight; stop submitting on a stop error."""
        queue = list(reversed(to_send))
        limit = self._settings.max_concurrency
        done = 0
        stop = False
        running: dict[Future[list[ZohoEntry]], list[str]] = {}
        try:
            with ThreadPoolExecutor(
                max_workers=min(limit, len(to_send)), thread_name_prefix="zoho-write"
            ) as pool:
                while running or (queue and not stop):
                    # submit lazily: once the run stops, only calls already in flight are still made
                    while queue and not stop and len(running) < limit:
                        chunk = queue.pop()
                        running[pool.submit(self._send, chunk)] = chunk
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        chunk = running.pop(future)
                        self.result.calls += 1
                        done += 1
                        try:
                            got = future.result()
                        except Exception as err:
                            stop = self._on_error(err, round_no, chunk) or stop
                            continue
                        self._keep(round_no, chunk, got)
                        log.info(
                            "Round %d: chunk %d of %d sent (%d ids)", round_no, done, len(to_send), len(chunk)
                        )
        except BaseException:
            # the task is being stopped (execution_timeout, SIGTERM): leaving the pool waited for the
            # calls in flight, so keep those Zoho answered, or a retry would send them a second time
            for future, chunk in running.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    self._ledger.put(round_no, chunk, _align(chunk, future.result()))
            raise

    def _keep(self, round_no: int, chunk: list[str], got: list[ZohoEntry]) -> None:
        entries = _align(chunk, got)
        self.result.merge(chunk, entries)
        self._ledger.put(round_no, chunk, entries)

    def _on_error(self, err: Exception, round_no: int, chunk: list[str]) -> bool:
        """
        Record a failed call; return whether the run must stop sending.

        A request-level rejection is classed by the error policy; one of class ``retry`` is re-sent
        in the next round, and once the re-sends are used up it stops the run like a transient
        error, so Airflow ``retries`` apply (as in job mode).
        """
        if isinstance(err, CREDIT_ERRORS):
            return self._out_of_credits(err, chunk)
        if is_final(err) and not unreadable_reply(err):
            return self._rejected(err, round_no, chunk)
        return self._stop(err, chunk)

    def _rejected(self, err: ZohoCRMError, round_no: int, chunk: list[str]) -> bool:
        """Record a request Zoho rejected, per the error policy; return whether the run must stop."""
        cls = rejection_class(err, self._overrides)
        if cls is ErrorClass.RETRY and round_no == self._settings.locked_retries:
            return self._stop(
                err.as_retryable("Zoho still rejected the request after the in-task re-sends"), chunk
            )
        entries = [error_entry(i, err.code or "UNKNOWN", err.message, err.details) for i in chunk]
        self.result.merge(chunk, entries)
        if cls is ErrorClass.FAIL:
            log.error("Zoho rejected a request, stopping: %s", err.describe())
            self.result.request_error = self.result.request_error or err
            return True
        log.warning(
            "Zoho rejected a request with %s (class %s by error_policy): %s", err.code, cls.value, err
        )
        self._ledger.put(round_no, chunk, entries)
        return False

    def _out_of_credits(self, err: ZohoCRMError, chunk: list[str]) -> bool:
        """Stop the run for want of credits: the chunk was refused (or held back), so ``NOT_SENT``; final."""
        self.result.merge(chunk, [error_entry(i, NOT_SENT, f"not applied: {err.describe()}") for i in chunk])
        log.error("Stopping the run: %s", err.describe())
        self.result.request_error = self.result.request_error or err
        return True

    def _stop(self, err: Exception, chunk: list[str]) -> bool:
        """Stop the run on an error a task retry may overcome, saying truly whether Zoho applied the chunk."""
        if may_have_applied(err):
            code, message = UNCONFIRMED, f"sent, but no reply came ({err}): Zoho may have applied it"
            self.result.unconfirmed.append((self._round_no, chunk))
        else:
            code, message = NOT_SENT, f"not applied: Zoho refused the call ({err}); a task retry sends it"
        self.result.merge(chunk, [error_entry(i, code, message) for i in chunk])
        log.error("A write call failed after the hook's retries, stopping: %s", err)
        self.result.stop_error = self.result.stop_error or err
        return True

    def confirm(self, read_back: Callable[[list[str]], dict[str, bool]]) -> None:
        """
        Settle unconfirmed chunks by reading their records back (see :func:`settle_unconfirmed`).

        :param read_back: ids -> whether each record holds the values the run set.
        """
        self.result.entries.update(settle_unconfirmed(self.result.unconfirmed, read_back, self._ledger))
        self.result.unconfirmed.clear()


def _fixed_chunks(ids: list[str], size: int | None) -> list[list[str]]:
    """Return ``ids`` in chunks of ``size`` (None: one chunk)."""
    return chunked(ids, size or max(len(ids), 1))


def _align(chunk: list[str], got: list[ZohoEntry]) -> list[ZohoEntry]:
    """Return one entry per chunk id, in chunk order; an id Zoho did not answer fails closed."""
    by_id = {e["id"]: e for e in got if e.get("id") is not None}
    extra = set(by_id) - set(chunk)
    if extra:
        log.warning("Zoho answered for %d id(s) that were not sent; ignoring them", len(extra))
    return [
        by_id.get(i) or error_entry(i, NO_RESULT, "Zoho's reply had no result for this id") for i in chunk
    ]
