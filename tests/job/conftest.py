"""Fixtures for job-mode and dry-run tests: a real ``task_state_store`` accessor on Airflow 3.3+."""

from __future__ import annotations

import json
import uuid

import pytest

from airflow_crm_provider.version_compat import AIRFLOW_V_3_3_PLUS


class FakeSupervisorComms:
    """
    The supervisor end of the task-state-store messages (what the API server does, in memory).

    Rows are kept per key for one task instance scope, so accessors of different tries (different
    ``ti_id``, same dag/run/task/map index) see the same rows, as they do in Airflow.
    """

    def __init__(self):
        self.rows: dict[str, str] = {}

    def send(self, msg):
        from airflow.sdk.exceptions import ErrorType
        from airflow.sdk.execution_time.comms import (
            ClearTaskStateStore,
            DeleteTaskStateStore,
            ErrorResponse,
            GetTaskStateStore,
            SetTaskStateStore,
            TaskStateStoreResult,
        )

        if isinstance(msg, GetTaskStateStore):
            if msg.key not in self.rows:
                return ErrorResponse(error=ErrorType.TASK_STORE_NOT_FOUND, detail={"key": msg.key})
            return TaskStateStoreResult(value=json.loads(self.rows[msg.key]))
        if isinstance(msg, SetTaskStateStore):
            self.rows[msg.key] = json.dumps(msg.value)
        elif isinstance(msg, DeleteTaskStateStore):
            self.rows.pop(msg.key, None)
        elif isinstance(msg, ClearTaskStateStore):
            self.rows.clear()
        else:  # pragma: no cover - a message this fake does not know
            raise AssertionError(f"unexpected supervisor message {msg!r}")
        return None


@pytest.fixture
def supervisor(monkeypatch):
    """Real ``TaskStateStoreAccessor`` objects talking to an in-memory supervisor (Airflow 3.3+ only)."""
    if not AIRFLOW_V_3_3_PLUS:
        pytest.skip("task_state_store exists on Airflow 3.3+ only; older Airflow re-schedules on retry")
    from airflow.sdk.execution_time import task_runner

    comms = FakeSupervisorComms()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    return comms


@pytest.fixture
def new_try_store(supervisor):
    """Return a factory of real accessors, one per try of the same task instance."""
    from airflow.sdk._shared.state import TaskScope
    from airflow.sdk.execution_time.context import TaskStateStoreAccessor

    scope = TaskScope(dag_id="d", run_id="r", task_id="t", map_index=-1)

    def make():
        return TaskStateStoreAccessor(ti_id=uuid.uuid4(), scope=scope)

    return make
