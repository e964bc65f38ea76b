"""
Job mode: mass update a custom view (optionally a territory) as a Zoho background job.

The worker schedules the job (the only POST), pushes its id to XCom at once and keeps it in Airflow
3.3's ``task_state_store``, so a retry after a crash resumes the same job instead of scheduling a
second one. It then waits by polling, or hands the operator a :class:`Deferral` (the operator
builds the trigger and defers). Zoho reports counts only, so the summary carries the job's counts
and ``records`` is empty. The runner knows nothing of Airflow: the operator passes callables that
push the job id and defer, and concludes the :class:`~airflow_crm_provider.runs.outcomes.RunResult`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.runs.maybe_applied import may_have_applied, unreadable_reply
from airflow_crm_provider.runs.outcomes import (
    Decision,
    RunResult,
    Summary,
    decide,
    rejection_class,
    summarize,
)
from airflow_crm_provider.zoho.api import JobState, job_state
from airflow_crm_provider.zoho.errors import RETRYABLE_ERRORS, ErrorClass, ZohoCRMError, ZohoTransientError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
    from airflow_crm_provider.runs.job_inputs import JobSettings
    from airflow_crm_provider.runs.ledger import JobTracker
    from airflow_crm_provider.zoho.api import JobStatus

log = logging.getLogger(__name__)

#: The summary's note: why ``records`` is empty in job mode.
COUNTS_ONLY_NOTE = (
    "Zoho CRM reports counts only for custom view/territory jobs: no per-record results, so records is empty"
)
#: Extra time Airflow's own deferral timeout allows, so the trigger's timeout event comes first.
DEFER_GRACE = 60.0


class JobSummary(Summary):
    """The job-mode summary: the common keys plus the job's context."""

    note: str
    job_status: str | None
    cvid: str
    territory_id: str | None


def job_summary(settings: JobSettings, job_id: str | None, job: Mapping[str, Any] | None) -> JobSummary:
    """
    Return the job-mode summary: Zoho's counts as requested/updated/failed/skipped (not processed).

    :param settings: the run's settings.
    :param job_id: the job id, if a job was scheduled.
    :param job: the job's last known status, if any.
    """
    base = summarize(
        settings.module, "job", [], requested=int(job["total_count"]) if job else 0, job_id=job_id
    )
    if job:
        base["updated"] = int(job["updated_count"])
        base["failed"] = int(job["failed_count"])
        base["skipped"] = int(job["not_updated_count"])
    return {
        **base,
        "note": COUNTS_ONLY_NOTE,
        "job_status": str(job["status"]) if job else None,
        "cvid": settings.target.cvid,
        "territory_id": settings.target.territory_id,
    }


def _where(settings: JobSettings) -> str:
    target = settings.target
    where = f"custom view {target.cvid}"
    if target.territory_id:
        child = " and its children" if target.include_child else ""
        where += f", territory {target.territory_id}{child}"
    return where


def _rejected(settings: JobSettings, exc: ZohoCRMError) -> RunResult:
    """Return how the task ends after Zoho refused to schedule the job, per the error policy."""
    summary = job_summary(settings, None, None)
    klass = rejection_class(exc, settings.overrides)
    where = _where(settings)
    if isinstance(exc, RETRYABLE_ERRORS):
        return RunResult(summary, [], Decision("failed", exc.describe()), retryable=exc, final=False)
    if klass is ErrorClass.RETRY:
        retry = exc.as_retryable(f"Zoho did not schedule the mass update of {where}")
        return RunResult(summary, [], Decision("failed", str(retry)), retryable=retry, final=False)
    if klass is ErrorClass.IGNORE:
        decision = Decision("success", f"{exc.describe()} ignored per error_policy; no job was scheduled")
    elif klass is ErrorClass.SOFT:
        if exc.code == "ALREADY_SCHEDULED":
            reason = (
                f"another mass update job is already running on {where} (ALREADY_SCHEDULED); none scheduled"
            )
        elif exc.code == "NO_RECORDS_FOUND":
            reason = f"{where} has no records to update (NO_RECORDS_FOUND); no job was scheduled"
        else:
            reason = f"Zoho did not schedule the mass update of {where}: {exc.describe()}"
        decision = (
            Decision("skipped", reason)
            if settings.thresholds.soft_fail
            else Decision("failed", f"{reason}, and soft_fail=False")
        )
    else:
        decision = decide(summary, settings.thresholds, request_error=exc)
    return RunResult(summary, [], decision)


def _resume(hook: ZohoCRMHook, settings: JobSettings, tracker: JobTracker) -> tuple[str, JobStatus] | None:
    """Return the job an earlier try scheduled and its status, if there is one Zoho still knows."""
    job_id = tracker.load()
    if job_id is None:
        return None
    try:
        job = hook.get_mass_update_status(settings.module, job_id)
    except RETRYABLE_ERRORS:
        raise  # the job may well exist: never schedule a second one over a passing failure
    except ZohoCRMError as err:
        log.warning("Job %s of an earlier try cannot be read (%s); scheduling a new job", job_id, err)
        return None
    log.info("Resuming job %s scheduled by an earlier try of this task (status %s)", job_id, job["status"])
    return job_id, job


def schedule_once(hook: ZohoCRMHook, settings: JobSettings, tracker: JobTracker) -> str | RunResult:
    """
    Send the job's POST, first kept in the task's state as maybe sent; return the job id or the task's end.

    A POST whose reply was lost (or could not be read) may have scheduled the job. The retry's POST
    then finds it running (``ALREADY_SCHEDULED``): that job is most likely this task's, so it is
    followed if Zoho names it, and never reported as "no job was scheduled", nor doubled.

    :param hook: the Zoho CRM hook.
    :param settings: the run's settings.
    :param tracker: keeps the job id (and the POST's intent) across tries.
    :raises ZohoCRMError: Zoho refused the job (the marker is dropped), or a reply that may have
        scheduled it was lost (transient: the marker stays for the retry).
    """
    target = settings.target
    earlier = tracker.posted_before()
    tracker.mark_posting()
    try:
        job_id = hook.mass_update_by_view(
            settings.module,
            settings.data,
            target.cvid,
            territory_id=target.territory_id,
            include_child=target.include_child,
            over_write=settings.over_write,
        )
    except ZohoCRMError as exc:
        if earlier and exc.code == "ALREADY_SCHEDULED":
            return _posted_before(settings, tracker, exc)
        if unreadable_reply(exc):
            raise ZohoTransientError(
                f"the reply to the job's POST could not be read ({exc.describe()}); Zoho may have "
                "scheduled it, and a retry of this task finds out before it schedules one"
            ) from exc
        if not may_have_applied(exc):
            tracker.mark_posting(False)
        raise
    if earlier:
        log.warning(
            "An earlier try's POST got no reply, and no job was running on %s: job %s is this task's "
            "(had that POST scheduled a job that finished since, the records are updated twice)",
            _where(settings),
            job_id,
        )
    tracker.save(job_id)
    return job_id


def _posted_before(settings: JobSettings, tracker: JobTracker, exc: ZohoCRMError) -> str | RunResult:
    """Return the job an earlier try's lost POST scheduled (if Zoho names it), or how the task ends."""
    named = exc.details.get("job_id")
    if named:
        log.info("Zoho names job %s, running on %s: following it", named, _where(settings))
        tracker.save(str(named))
        return str(named)
    reason = (
        f"an earlier try sent the mass update of {_where(settings)} and its reply was lost; Zoho now "
        "answers ALREADY_SCHEDULED: a job is running on the view, most likely that one, and Zoho gives "
        "no id to follow it by, so its counts are unknown here. No second job was scheduled; check the "
        "job in Zoho CRM before clearing this task (a cleared task schedules the job again)"
    )
    return RunResult(job_summary(settings, None, None), [], Decision("failed", reason))


def wait_for_job(
    hook: ZohoCRMHook,
    module: str,
    job_id: str,
    *,
    poll_interval: float,
    timeout: float | None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[JobStatus, bool]:
    """
    Poll a job until it leaves ``SCHEDULED``/``RUNNING`` or the timeout passes.

    :param hook: the Zoho CRM hook.
    :param module: module API name.
    :param job_id: the job id.
    :param poll_interval: seconds between status requests.
    :param timeout: seconds to wait, or ``None``.
    :param sleep: the sleep function.
    :return: the last status, and whether the timeout passed first.
    :raises ZohoCRMError: reading the status failed (after the hook's retries).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = hook.get_mass_update_status(module, job_id)
        if job_state(job) is not JobState.ACTIVE:
            return job, False
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return job, True
        log.info(
            "Mass update job %s is %s: %s of %s updated",
            job_id,
            job["status"],
            job["updated_count"],
            job["total_count"],
        )
        sleep(poll_interval if remaining is None else min(poll_interval, remaining))


def finish_job(
    settings: JobSettings, job_id: str, job: JobStatus, *, timed_out: bool = False, resumable: bool = False
) -> RunResult:
    """
    Return how the task ends from the job's final (or last known) status.

    :param settings: the run's settings.
    :param job_id: the job id.
    :param job: the job's status.
    :param timed_out: the timeout passed while the job was still active.
    :param resumable: the job id is kept for a retry (``task_state_store``).
    """
    summary = job_summary(settings, job_id, job)
    state = job_state(job)
    if timed_out:
        keep = " and this task instance keeps its id, so clearing the task resumes it" if resumable else ""
        decision = Decision(
            "failed",
            f"job {job_id} was still {job['status']} when timeout={settings.timeout or 0:g}s passed; "
            f"it keeps running in Zoho CRM{keep}",
        )
        return RunResult(summary, [], decision, final=False)
    if state is JobState.COMPLETED:
        decision = decide(summary, settings.thresholds)
    elif state is JobState.FAILED:
        decision = Decision(
            "failed",
            f"job {job_id} ended FAILED in Zoho CRM ({job['failed_count']} of {job['total_count']} failed)",
        )
    else:
        decision = Decision(
            "failed", f"job {job_id} has status {job['status']!r}, unknown here: failing closed"
        )
    return RunResult(summary, [], decision)


@dataclass(frozen=True)
class Deferral:
    """
    The wait for a job, handed to the triggerer: what the operator's trigger polls, and until when.

    :param module: Zoho module API name.
    :param job_id: the job id.
    :param poll_interval: seconds between status requests.
    :param end_time: Unix time after which the trigger reports a timeout, or ``None``.
    :param timeout: Airflow's deferral timeout, a little after ``end_time`` so the trigger's comes first.
    """

    module: str
    job_id: str
    poll_interval: float
    end_time: float | None
    timeout: timedelta | None

    @classmethod
    def of(cls, settings: JobSettings, job_id: str) -> Deferral:
        """
        Return the deferral of a job's wait under ``settings``.

        :param settings: the run's settings.
        :param job_id: the job id.
        """
        if settings.timeout is None:
            end_time, timeout = None, None
        else:
            grace = max(DEFER_GRACE, 2 * settings.poll_interval)
            end_time, timeout = time.time() + settings.timeout, timedelta(seconds=settings.timeout + grace)
        return cls(settings.module, job_id, settings.poll_interval, end_time, timeout)


def run_job(
    settings: JobSettings,
    hook: ZohoCRMHook,
    tracker: JobTracker,
    *,
    on_scheduled: Callable[[str], None] = lambda job_id: None,
    defer: Callable[[Deferral], Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """
    Schedule (or resume) the job, report its id, wait for it and return how the task ends.

    :param settings: the run's settings.
    :param hook: the Zoho CRM hook.
    :param tracker: keeps the job id across tries.
    :param on_scheduled: called with the job id as soon as it is known (the operator pushes it to XCom).
    :param defer: defers the task to a trigger polling the job (raises ``TaskDeferred``); ``None`` polls here.
    :param sleep: the sleep function of the polling loop.
    """
    try:
        resumed = _resume(hook, settings, tracker)
        if resumed is None:
            scheduled = schedule_once(hook, settings, tracker)
            if isinstance(scheduled, RunResult):
                return scheduled
            job_id, job = scheduled, None
            log.info("Scheduled mass update job %s on %s of %s", job_id, _where(settings), settings.module)
        else:
            job_id, job = resumed
    except ZohoCRMError as exc:
        return _rejected(settings, exc)
    on_scheduled(job_id)
    if job is not None and job_state(job) is not JobState.ACTIVE:
        return finish_job(settings, job_id, job)
    if defer is not None:
        log.info("Deferring: the triggerer polls job %s every %gs", job_id, settings.poll_interval)
        defer(Deferral.of(settings, job_id))
    try:
        job, timed_out = wait_for_job(
            hook,
            settings.module,
            job_id,
            poll_interval=settings.poll_interval,
            timeout=settings.timeout,
            sleep=sleep,
        )
    except ZohoCRMError as exc:
        return _poll_failed(settings, job_id, job, exc.describe(), exc, tracker.enabled)
    return finish_job(settings, job_id, job, timed_out=timed_out, resumable=tracker.enabled)


def _poll_failed(
    settings: JobSettings,
    job_id: str,
    job: Mapping[str, Any] | None,
    message: str,
    exc: BaseException | None,
    resumable: bool,
) -> RunResult:
    """Return how the task ends after reading the job's status failed (transient: Airflow retries apply)."""
    summary = job_summary(settings, job_id, job)
    if isinstance(exc, RETRYABLE_ERRORS):
        if not resumable:
            log.warning(
                "The job id is not kept: a retry of this task schedules a new job instead of %s", job_id
            )
        return RunResult(summary, [], Decision("failed", message), retryable=exc, final=False)
    decision = Decision("failed", f"reading the status of job {job_id} failed: {message}")
    return RunResult(summary, [], decision)


def complete_job(settings: JobSettings, event: Any, *, resumable: bool = False) -> RunResult:
    """
    Return how the task ends from the trigger's event (the operator's ``execute_complete``).

    :param settings: the run's settings (re-rendered after the deferral).
    :param event: ``{"status", "job_id", "job", "message", "code", "retryable", "calls",
        "credits_remaining"}`` from the trigger.
    :param resumable: the job id is kept for a retry (``task_state_store``).
    """
    result = _complete(settings, event, resumable)
    if isinstance(event, dict) and isinstance(event.get("calls"), dict):
        # the worker's calls before the deferral and the trigger's polls: nothing is counted after
        result.summary["calls"] = {**result.summary["calls"], **event["calls"]}
        result.summary["credits_remaining"] = event.get("credits_remaining")
    return result


def _complete(settings: JobSettings, event: Any, resumable: bool) -> RunResult:
    if not isinstance(event, dict) or not event.get("job_id"):
        summary = job_summary(settings, None, None)
        decision = Decision(
            "failed", f"the trigger sent an event this operator does not understand: {event!r}"
        )
        return RunResult(summary, [], decision)
    job_id = str(event["job_id"])
    job = event.get("job")
    if event.get("status") == "timeout" and job:
        return finish_job(settings, job_id, job, timed_out=True, resumable=resumable)
    if job and job_state(job) is not JobState.ACTIVE:
        return finish_job(settings, job_id, job)
    message = str(event.get("message") or f"the trigger ended with status {event.get('status')!r}")
    exc = ZohoTransientError(message) if event.get("retryable") else None
    return _poll_failed(settings, job_id, job, message, exc, resumable)
