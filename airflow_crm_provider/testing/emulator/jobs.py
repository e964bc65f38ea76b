"""Mass update jobs (cvid/territory mode): progress is computed from elapsed time, no threads."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator import defaults

if TYPE_CHECKING:
    from airflow_crm_provider.testing.emulator.store import Module

#: Share of the job's duration spent SCHEDULED before it starts RUNNING.
SCHEDULED_SHARE = 0.2


@dataclass
class Job:
    """One scheduled mass update over a custom view's records."""

    job_id: str
    module: str
    cvid: str
    record_ids: list[str]
    values: dict[str, Any]
    over_write: bool
    started: float
    duration: float
    fail: bool
    processed: int = 0
    updated: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        """Records selected for the job."""
        return len(self.record_ids)

    def due(self, now: float) -> int:
        """Return how many records the job should have processed by ``now``."""
        elapsed = now - self.started
        if elapsed >= self.duration:
            return self.total
        running = (elapsed - SCHEDULED_SHARE * self.duration) / ((1 - SCHEDULED_SHARE) * self.duration)
        return min(self.total - 1, max(0, math.floor(self.total * running)))

    def finished(self, now: float) -> bool:
        """Tell whether the job has ended (COMPLETED or FAILED) by ``now``."""
        return now - self.started >= self.duration

    def status(self, now: float) -> dict[str, Any]:
        """Return the job's ``data[]`` entry as Zoho's status API shows it."""
        if self.finished(now):
            state = "FAILED" if self.fail else "COMPLETED"
        elif now - self.started < SCHEDULED_SHARE * self.duration:
            state = "SCHEDULED"
        else:
            state = "RUNNING"
        return {
            "Status": state,
            "Failed_Count": self.failed,
            "Updated_Count": self.updated,
            "Not_Updated_Count": self.total - self.processed,
            "Total_Count": self.total,
        }


class JobBook:
    """Every job since the last reset."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._ids = itertools.count(defaults.FIRST_JOB_ID)

    def create(self, **fields: Any) -> Job:
        """
        Schedule a job and return it.

        :param fields: the :class:`Job` fields other than ``job_id`` and the counters.
        """
        job = Job(job_id=str(next(self._ids)), **fields)
        self.jobs[job.job_id] = job
        return job

    def running(self, module: str, cvid: str, now: float) -> bool:
        """Tell whether a job for this module's custom view has not finished yet."""
        return any(j.module == module and j.cvid == cvid and not j.finished(now) for j in self.jobs.values())

    def advance(self, modules: dict[str, Module], now: float, stamp: str) -> int:
        """
        Process every job's records that are due by ``now`` and return how many records changed.

        Not approved and locked records count as failed; a failing job changes nothing.

        :param modules: the record store's modules.
        :param now: the current time.
        :param stamp: ``Modified_Time`` for records updated now.
        """
        changed = 0
        for job in self.jobs.values():
            module = modules[job.module]
            for record_id in job.record_ids[job.processed : job.due(now)]:
                job.processed += 1
                if job.fail or record_id not in module.records or module.blocker(record_id) is not None:
                    job.failed += 1
                    continue
                module.apply(record_id, job.values, job.over_write, stamp)
                job.updated += 1
                changed += 1
        return changed
