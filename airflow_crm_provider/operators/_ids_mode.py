"""
Ids mode: send chunks of record ids with bounded concurrency, re-send retry-class records, stop early.

The runner is independent of Airflow: it gets a ``send(chunk) -> entries`` callable (the hook's
``mass_update``), a :class:`~airflow_crm_provider.operators._ledger.ChunkLedger` and the user's error
policy, and returns what Zoho said about each id plus what (if anything) stopped the run.
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_crm_provider.errors import (
    ErrorClass,
    ZohoCRMError,
    classify,
)
from airflow_crm_provider.results import NO_RESULT, NOT_SENT, RETRYABLE_ERRORS, SUCCESS, error_entry

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from airflow_crm_provider.operators._ledger import ChunkLedger
    from airflow_crm_provider.replies import ZohoEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdsPlan:
    """
    How ids are sent.

    :param batch_size: ids per call (at most 500).
    :param max_concurrency: calls in flight at once.
    :param locked_retries: re-sends of retry-class records (``RECORD_LOCKED``) before they count as skipped.
    :param locked_retry_delay: first backoff before a re-send, in seconds (doubles each round, with jitter).
    :param max_locked_retry_delay: cap of that backoff, in seconds.
    """

    batch_size: int = 500
    max_concurrency: int = 4
    locked_retries: int = 3
    locked_retry_delay: float = 5.0
    max_locked_retry_delay: float = 60.0

    def backoff(self, round_no: int) -> float:
        """Return the wait before re-send ``round_no`` (1-based): exponential, capped, jittered."""
        base = min(self.max_locked_retry_delay, self.locked_retry_delay * 2 ** (round_no - 1))
        return base * random.uniform(0.5, 1.0)


@dataclass
class IdsRun:
    """
    What happened to the ids.

    :param entries: id -> Zoho's entry (ids never sent are absent or carry ``NOT_SENT``).
    :param request_error: a fail-class request-level error that stopped the run.
    :param stop_error: a transient (or unexpected) error that stopped the run; Airflow retries apply.
    :param calls: mass update calls made by this try.
    :param resumed: ids whose result came from an earlier try.
    """

    entries: dict[str, ZohoEntry] = field(default_factory=dict)
    request_error: ZohoCRMError | None = None
    stop_error: BaseException | None = None
    calls: int = 0
    resumed: int = 0

    @property
    def stopped(self) -> bool:
        """Whether the run stopped before every id got a final answer."""
        return self.request_error is not None or self.stop_error is not None


def run_ids_mode(
    send: Callable[[list[str]], list[ZohoEntry]],
    ids: Sequence[str],
    plan: IdsPlan,
    ledger: ChunkLedger,
    overrides: Mapping[str, ErrorClass] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> IdsRun:
    """
    Send every id once, then re-send retry-class records up to ``plan.locked_retries`` times.

    :param send: sends one chunk (at most 500 ids) and returns one entry per record id.
    :param ids: unique record ids, in input order.
    :param plan: chunking, concurrency and re-send settings.
    :param ledger: results of chunks applied by earlier tries (reused, not re-sent).
    :param overrides: the user's per-code classes.
    :param sleep: waits between re-send rounds (injected by tests).
    """
    policy = dict(overrides or {})
    run = IdsRun()
    pending = list(ids)
    for round_no in range(plan.locked_retries + 1):
        delay = plan.backoff(round_no) if round_no else 0.0
        _send_round(send, round_no, pending, plan, ledger, policy, run, delay, sleep)
        if run.stopped:
            return run
        retry = [i for i in pending if _is_retry(run.entries[i], policy)]
        if not retry:
            break
        if round_no == plan.locked_retries:
            log.warning(
                "%d record(s) still got a retry-class code after %d re-send(s); they count as skipped",
                len(retry),
                plan.locked_retries,
            )
            break
        log.info("%d record(s) got a retry-class code (e.g. RECORD_LOCKED); re-sending them", len(retry))
        pending = retry
    return run


def _is_retry(entry: ZohoEntry, policy: dict[str, ErrorClass]) -> bool:
    return entry["code"] not in (SUCCESS, NOT_SENT) and classify(entry["code"], policy) is ErrorClass.RETRY


def _send_round(
    send: Callable[[list[str]], list[ZohoEntry]],
    round_no: int,
    pending: list[str],
    plan: IdsPlan,
    ledger: ChunkLedger,
    policy: dict[str, ErrorClass],
    run: IdsRun,
    delay: float,
    sleep: Callable[[float], None],
) -> None:
    """Send one round's chunks; chunks an earlier try applied come from the ledger instead."""
    chunks = [pending[i : i + plan.batch_size] for i in range(0, len(pending), plan.batch_size)]
    to_send = [chunk for chunk in chunks if not _resume(round_no, chunk, ledger, run)]
    if len(to_send) < len(chunks):
        log.info(
            "Round %d: %d of %d chunk(s) were applied by an earlier try; not re-sending them",
            round_no,
            len(chunks) - len(to_send),
            len(chunks),
        )
    if not to_send:
        return
    if delay:
        log.info("Waiting %.1f s before re-send %d", delay, round_no)
        sleep(delay)
    _send_chunks(send, round_no, to_send, plan, ledger, policy, run)


def _resume(round_no: int, chunk: list[str], ledger: ChunkLedger, run: IdsRun) -> bool:
    """Take a chunk's entries from the ledger; return whether an earlier try applied it."""
    stored = ledger.get(round_no, chunk)
    if stored is None:
        return False
    _merge(run, chunk, stored)
    run.resumed += len(chunk)
    return True


def _send_chunks(
    send: Callable[[list[str]], list[ZohoEntry]],
    round_no: int,
    to_send: list[list[str]],
    plan: IdsPlan,
    ledger: ChunkLedger,
    policy: dict[str, ErrorClass],
    run: IdsRun,
) -> None:
    """Send chunks with at most ``plan.max_concurrency`` in flight; stop submitting on a stop error."""
    queue = list(reversed(to_send))
    done = 0
    stop = False
    workers = min(plan.max_concurrency, len(to_send))
    running: dict[Future[list[ZohoEntry]], list[str]] = {}
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zoho-mass-update") as pool:
            while running or (queue and not stop):
                # submit lazily: once the run stops, only calls already in flight are still made
                while queue and not stop and len(running) < plan.max_concurrency:
                    chunk = queue.pop()
                    running[pool.submit(send, chunk)] = chunk
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    chunk = running.pop(future)
                    run.calls += 1
                    done += 1
                    try:
                        got = future.result()
                    except Exception as err:
                        final = round_no == plan.locked_retries
                        stop = _on_error(err, round_no, chunk, ledger, policy, run, final=final) or stop
                        continue
                    entries = _align(chunk, got)
                    _merge(run, chunk, entries)
                    ledger.put(round_no, chunk, entries)
                    log.info(
                        "Round %d: chunk %d of %d sent (%d ids)", round_no, done, len(to_send), len(chunk)
                    )
    except BaseException:
        # the task is being stopped (execution_timeout, SIGTERM): leaving the pool waited for the calls
        # in flight, so keep those Zoho applied, or a retry would send them a second time
        _keep_finished(running, round_no, ledger)
        raise


def _keep_finished(
    running: Mapping[Future[list[ZohoEntry]], list[str]], round_no: int, ledger: ChunkLedger
) -> None:
    """Record the chunks whose calls completed but were not collected before the run was stopped."""
    for future, chunk in running.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            ledger.put(round_no, chunk, _align(chunk, future.result()))


def _on_error(
    err: Exception,
    round_no: int,
    chunk: list[str],
    ledger: ChunkLedger,
    policy: dict[str, ErrorClass],
    run: IdsRun,
    *,
    final: bool,
) -> bool:
    """
    Record a failed call; return whether the run must stop sending.

    A request-level rejection is classed by the error policy; one of class ``retry`` is re-sent in the
    next round, and once the re-sends are used up (``final``) it stops the run like a transient error,
    so Airflow ``retries`` apply (as in job mode).
    """
    if isinstance(err, ZohoCRMError) and not isinstance(err, RETRYABLE_ERRORS):
        cls = classify(err.code, policy)
        if cls is ErrorClass.RETRY and final:
            return _stop(
                err.as_retryable("Zoho still rejected the request after the in-task re-sends"), chunk, run
            )
        entries = [error_entry(i, err.code or "UNKNOWN", err.message, err.details) for i in chunk]
        _merge(run, chunk, entries)
        if cls is ErrorClass.FAIL:
            log.error("Zoho rejected a mass update request, stopping: %s", err.describe())
            run.request_error = run.request_error or err
            return True
        log.warning(
            "Zoho rejected a request with %s (class %s by error_policy): %s", err.code, cls.value, err
        )
        ledger.put(round_no, chunk, entries)
        return False
    return _stop(err, chunk, run)


def _stop(err: Exception, chunk: list[str], run: IdsRun) -> bool:
    """Stop the run on an error a task retry may overcome; the chunk's ids count as not applied."""
    message = f"not applied: the call failed after the hook's retries ({err}); a task retry re-sends it"
    _merge(run, chunk, [error_entry(i, NOT_SENT, message) for i in chunk])
    log.error("A mass update call failed after the hook's retries, stopping: %s", err)
    run.stop_error = run.stop_error or err
    return True


def _align(chunk: list[str], got: list[ZohoEntry]) -> list[ZohoEntry]:
    """Return one entry per chunk id, in chunk order; an id Zoho did not answer fails closed."""
    by_id = {e["id"]: e for e in got if e.get("id") is not None}
    extra = set(by_id) - set(chunk)
    if extra:
        log.warning("Zoho answered for %d id(s) that were not sent; ignoring them", len(extra))
    return [
        by_id.get(i) or error_entry(i, NO_RESULT, "Zoho's reply had no result for this id") for i in chunk
    ]


def _merge(run: IdsRun, chunk: list[str], entries: list[ZohoEntry]) -> None:
    for record_id, entry in zip(chunk, entries, strict=True):
        run.entries[record_id] = entry
