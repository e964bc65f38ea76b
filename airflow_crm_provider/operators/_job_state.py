"""
What a mass update job's status means, and the job id kept across tries in ``task_state_store``.

Shared by the operator (job mode) and the trigger, and free of heavy imports. On Airflow 3.3+ retries
of a task instance share its ``task_state_store`` rows (the same API ``ResumableJobMixin`` uses), so a
retry after a crash finds the job an earlier try scheduled and resumes it. The key is deleted once the
job's outcome is final, so clearing a finished task schedules a new job.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import TYPE_CHECKING, Any

from airflow_crm_provider._compat import AIRFLOW_V_3_3_PLUS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.sdk import Context

log = logging.getLogger(__name__)

#: Job statuses that mean "still going"; ``COMPLETED`` and ``FAILED`` end a job, anything else is unknown.
ACTIVE_STATUSES = frozenset({"SCHEDULED", "RUNNING"})
#: ``task_state_store`` key of the job this task instance scheduled.
STATE_KEY = "zoho_crm.mass_update.job"


class JobState(str, Enum):
    """What a job status means for the task."""

    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"


def job_state(job: Mapping[str, Any]) -> JobState:
    """
    Classify a job's ``status``; statuses this provider does not know fail closed (``UNKNOWN``).

    :param job: a :class:`~airflow_crm_provider.replies.JobStatus`.
    """
    status = str(job.get("status") or "").upper()
    if status in ACTIVE_STATUSES:
        return JobState.ACTIVE
    if status == "COMPLETED":
        return JobState.COMPLETED
    if status == "FAILED":
        return JobState.FAILED
    return JobState.UNKNOWN


class JobTracker:
    """
    The job id kept in ``task_state_store`` across tries (a no-op without a store).

    :param store: the task's ``task_state_store`` accessor, or ``None``.
    :param fingerprint: digest of what the run writes: a retry resumes only a job for the same target.
    """

    def __init__(self, store: Any | None, fingerprint: str) -> None:
        self._store = store
        self._fingerprint = fingerprint

    @classmethod
    def from_context(cls, context: Context, fingerprint: str) -> JobTracker:
        """
        Return the tracker of this task instance.

        :param context: the task context (``task_state_store`` exists on Airflow 3.3+).
        :param fingerprint: digest of what the run writes (``JobSettings.fingerprint()``).
        """
        return cls(context.get("task_state_store"), fingerprint)

    @property
    def enabled(self) -> bool:
        """Whether the job id survives into a retry."""
        return self._store is not None

    def load(self) -> str | None:
        """Return the job id an earlier try scheduled for the same target, if any."""
        if self._store is None:
            return None
        try:
            stored = self._store.get(STATE_KEY)
        except Exception as err:  # the store is a convenience: never lose the run over it
            log.warning("Could not read task_state_store key %s: %s", STATE_KEY, err)
            return None
        if not isinstance(stored, dict) or not stored.get("job_id"):
            return None
        if stored.get("target") != self._fingerprint:
            log.warning(
                "An earlier try scheduled job %s for a different module, view or data; scheduling a new job",
                stored["job_id"],
            )
            return None
        return str(stored["job_id"])

    def save(self, job_id: str) -> None:
        """Keep the job id for a retry."""
        if self._store is None:
            if not AIRFLOW_V_3_3_PLUS:
                log.warning("Airflow < 3.3 has no task_state_store: a retry of this task schedules a new job")
            return
        try:
            self._store.set(STATE_KEY, {"job_id": job_id, "target": self._fingerprint})
        except Exception as err:
            log.warning(
                "Could not keep job %s in task_state_store (%s): a retry schedules a new job", job_id, err
            )

    def clear(self) -> None:
        """Forget the job (its outcome is final), so clearing the task later schedules a new one."""
        if self._store is None:
            return
        try:
            self._store.delete(STATE_KEY)
        except Exception as err:
            log.warning("Could not delete task_state_store key %s: %s", STATE_KEY, err)
