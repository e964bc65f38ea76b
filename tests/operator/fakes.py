"""Test doubles faithful to the Airflow SDK APIs the operator uses."""

from __future__ import annotations

import copy
import json


class FakeTaskStateStore:
    """In-memory ``TaskStateStoreAccessor`` (``airflow.sdk.execution_time.context``), JSON values."""

    def __init__(self):
        self.rows: dict[str, str] = {}
        self.sets = 0

    def get(self, key, default=None):
        return json.loads(self.rows[key]) if key in self.rows else default

    def set(self, key, value, *, retention=None):
        if value is None:
            raise ValueError("Cannot set value as None")
        self.rows[key] = json.dumps(value)
        self.sets += 1

    def delete(self, key):
        self.rows.pop(key, None)

    def clear(self):
        self.rows.clear()


class FakeTI:
    """Records ``xcom_push`` calls like ``RuntimeTaskInstance``; pulls what ``upstream`` tasks pushed."""

    def __init__(self, upstream=None):
        self.pushed = {}
        self.upstream = upstream or {}  # task id -> {key: value}
        self.pulls = []

    def xcom_push(self, key, value):
        json.dumps(value)  # XComs must be JSON-serialisable on Airflow 3
        self.pushed[key] = copy.deepcopy(value)

    def xcom_pull(self, task_ids=None, key="return_value", map_indexes=None):
        self.pulls.append((task_ids, key, map_indexes))
        return copy.deepcopy(self.upstream.get(task_ids, {}).get(key))


def make_context(store=None, upstream=None):
    context = {"ti": FakeTI(upstream)}
    if store is not None:
        context["task_state_store"] = store
    return context


def conclude(context, result, state=None, *, push=True):
    """End a task from a runner's result as the operator does (push XComs, forget state, raise)."""
    from airflow_crm_provider.operators.mass_update import ZohoCRMMassUpdateOperator

    operator = ZohoCRMMassUpdateOperator(
        task_id="conclude", module="Leads", data={"City": "x"}, do_xcom_push=push
    )
    operator._link_saved = True  # as after the connection was resolved
    return operator._conclude(context, result, state)


def run_job_task(context, settings, hook, **kwargs):
    """Run job mode as the operator does: job id pushed at once, kept in the task's state, concluded."""
    from airflow_crm_provider.runs.job_runner import run_job
    from airflow_crm_provider.runs.ledger import JobTracker, TaskState

    state = TaskState(context.get("task_state_store"))
    tracker = JobTracker(state, settings.fingerprint())
    result = run_job(
        settings,
        hook,
        tracker,
        on_scheduled=lambda job_id: context["ti"].xcom_push(key="job_id", value=job_id),
        **kwargs,
    )
    return conclude(context, result, state)


def complete_job_task(context, settings, event):
    """Conclude a deferred job from the trigger's event as ``execute_complete`` does."""
    from airflow_crm_provider.runs.job_runner import complete_job
    from airflow_crm_provider.runs.ledger import JobTracker, TaskState

    state = TaskState(context.get("task_state_store"))
    JobTracker(state, settings.fingerprint())
    return conclude(context, complete_job(settings, event, resumable=state.enabled), state)


def dry_run_task(context, hook, **kwargs):
    """Run a dry run and conclude it as the operator does."""
    from airflow_crm_provider.runs.dry_run import run_dry_run

    return conclude(context, run_dry_run(hook, **kwargs))
