from __future__ import annotations

import pytest

from airflow_crm_provider.runs.ledger import JOB_KEY, JobTracker, TaskState
from airflow_crm_provider.zoho.api import JobState, job_state
from tests.operator.fakes import FakeTaskStateStore


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("SCHEDULED", JobState.ACTIVE),
        ("RUNNING", JobState.ACTIVE),
        ("running", JobState.ACTIVE),
        ("COMPLETED", JobState.COMPLETED),
        ("FAILED", JobState.FAILED),
        ("PAUSED", JobState.UNKNOWN),
        ("", JobState.UNKNOWN),
        (None, JobState.UNKNOWN),
    ],
)
def test_job_state_fails_closed_on_unknown_statuses(status, state):
    assert job_state({"status": status}) is state


def test_tracker_round_trip_on_the_real_accessor(new_try_store):
    first = JobTracker(TaskState(new_try_store()), "fp")
    assert first.load() is None
    first.save("4200000000001")
    state = TaskState(new_try_store())  # another try: new ti_id, same task instance rows
    retry = JobTracker(state, "fp")
    assert retry.load() == "4200000000001"
    assert JobTracker(TaskState(new_try_store()), "other").load() is None  # another target: not resumed
    state.clear()
    assert JobTracker(TaskState(new_try_store()), "fp").load() is None


def test_tracker_without_store_is_a_no_op():
    state = TaskState(None)
    tracker = JobTracker(state, "fp")
    assert not tracker.enabled
    tracker.save("1")
    assert tracker.load() is None
    state.clear()


class BrokenStore(FakeTaskStateStore):
    def get(self, key, default=None):
        raise RuntimeError("API server unreachable")

    def set(self, key, value, *, retention=None):
        raise RuntimeError("API server unreachable")

    def delete(self, key):
        raise RuntimeError("API server unreachable")


def test_a_broken_store_never_loses_the_run(caplog):
    state = TaskState(BrokenStore())
    tracker = JobTracker(state, "fp")
    tracker.save("1")
    assert tracker.load() is None
    state.clear()
    assert "API server unreachable" in caplog.text


def test_garbage_in_the_store_is_ignored():
    store = FakeTaskStateStore()
    store.set(JOB_KEY, ["not", "a", "dict"])
    assert JobTracker(TaskState(store), "fp").load() is None
