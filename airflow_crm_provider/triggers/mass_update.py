"""
Poll-only trigger for Zoho CRM mass update jobs (cvid/territory mode).

The worker schedules the job (the one POST) and defers with the job id; this trigger only sends
status GETs through the hook's async client, so a triggerer restart that re-runs :meth:`run` from
scratch never schedules a second job.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_crm_provider.deprecations import renamed_conn_id
from airflow_crm_provider.zoho.api import JobState, job_state
from airflow_crm_provider.zoho.errors import RETRYABLE_ERRORS, ZohoCRMError
from airflow_crm_provider.zoho.settings import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
    from airflow_crm_provider.zoho.api import JobStatus


class ZohoCRMMassUpdateJobTrigger(BaseTrigger):
    """
    Poll a mass update job until it completes, fails or the deadline passes; yield one JSON event.

    The event is ``{"status": "success"|"error"|"timeout", "job_id", "job": <JobStatus or None>,
    "message", "code", "retryable", "calls", "credits_remaining"}``. ``success`` means the job reached
    ``COMPLETED`` (the operator still judges its counts); ``FAILED`` and any status this provider does
    not know are ``error``. ``calls`` adds this trigger's status requests to the worker's counts.

    :param zoho_crm_conn_id: Airflow connection id of the Zoho CRM connection.
    :param module: Zoho module API name, e.g. ``Leads``.
    :param job_id: the job id the worker got when it scheduled the job.
    :param poll_interval: seconds between status requests.
    :param end_time: Unix time after which the trigger stops with a ``timeout`` event; ``None``
        waits as long as the job runs.
    :param hook_params: the operator's ``ZohoCRMHook`` arguments (timeouts, retries), JSON-able.
    :param calls: the calls the worker made before deferring, by kind.
    :param credits_remaining: the credits the worker last heard remain.
    """

    def __init__(
        self,
        *,
        module: str,
        job_id: str,
        poll_interval: float,
        zoho_crm_conn_id: str = DEFAULT_CONN_ID,
        end_time: float | None = None,
        hook_params: dict[str, Any] | None = None,
        calls: dict[str, int] | None = None,
        credits_remaining: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.zoho_crm_conn_id = renamed_conn_id(zoho_crm_conn_id, kwargs, default=DEFAULT_CONN_ID)
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        self.module = module
        self.job_id = str(job_id)
        self.poll_interval = float(poll_interval)
        self.end_time = None if end_time is None else float(end_time)
        self.hook_params = dict(hook_params or {})
        self.calls = dict(calls or {})
        self.credits_remaining = credits_remaining

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and the JSON-able kwargs (ids and numbers only, never a token)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "zoho_crm_conn_id": self.zoho_crm_conn_id,
                "module": self.module,
                "job_id": self.job_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "hook_params": self.hook_params,
                "calls": self.calls,
                "credits_remaining": self.credits_remaining,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll the job status with GETs only and yield exactly one event."""
        yield TriggerEvent(await self._poll())

    async def _poll(self) -> dict[str, Any]:
        from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook

        job: JobStatus | None = None
        hook: ZohoCRMHook | None = None
        try:
            hook = ZohoCRMHook(self.zoho_crm_conn_id, **self.hook_params)
            while True:
                job = await hook.aget_mass_update_status(self.module, self.job_id)
                state = job_state(job)
                if state is JobState.COMPLETED:
                    return self._event("success", job, hook, f"mass update job {self.job_id} completed")
                if state is JobState.FAILED:
                    return self._event(
                        "error", job, hook, f"mass update job {self.job_id} FAILED in Zoho CRM"
                    )
                if state is JobState.UNKNOWN:
                    return self._event(
                        "error",
                        job,
                        hook,
                        f"mass update job {self.job_id} has status {job.get('status')!r}, "
                        "which this provider does not know; failing closed",
                    )
                remaining = None if self.end_time is None else self.end_time - time.time()
                if remaining is not None and remaining <= 0:
                    return self._event(
                        "timeout",
                        job,
                        hook,
                        f"mass update job {self.job_id} still {job.get('status')} when the timeout passed",
                    )
                self.log.info(
                    "Zoho CRM mass update job %s is %s (%s of %s updated)",
                    self.job_id,
                    job.get("status"),
                    job.get("updated_count"),
                    job.get("total_count"),
                )
                delay = self.poll_interval if remaining is None else min(self.poll_interval, remaining)
                await asyncio.sleep(max(delay, 0.0))
        except ZohoCRMError as exc:
            return self._event(
                "error",
                job,
                hook,
                f"reading the status of mass update job {self.job_id} failed: {exc.describe()}",
                code=exc.code,
                retryable=isinstance(exc, RETRYABLE_ERRORS),
            )
        except Exception as exc:
            self.log.exception("Polling mass update job %s failed", self.job_id)
            return self._event(
                "error",
                job,
                hook,
                f"polling mass update job {self.job_id} failed: {type(exc).__name__}: {exc}",
                retryable=True,
            )

    def _event(
        self,
        status: str,
        job: JobStatus | None,
        hook: ZohoCRMHook | None,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = False,
    ) -> dict[str, Any]:
        calls = dict(self.calls)
        remaining = self.credits_remaining
        if hook is not None:  # the status requests this trigger made count with the worker's calls
            for kind, count in hook.credits.calls.items():
                calls[kind] = calls.get(kind, 0) + count
            remaining = hook.credits.remaining if hook.credits.remaining is not None else remaining
        return {
            "status": status,
            "job_id": self.job_id,
            "job": dict(job) if job is not None else None,
            "message": message,
            "code": code,
            "retryable": retryable,
            "calls": calls,
            "credits_remaining": remaining,
        }
