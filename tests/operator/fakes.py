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
    """Records ``xcom_push`` calls like ``RuntimeTaskInstance``."""

    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        json.dumps(value)  # XComs must be JSON-serialisable on Airflow 3
        self.pushed[key] = copy.deepcopy(value)


def make_context(store=None):
    context = {"ti": FakeTI()}
    if store is not None:
        context["task_state_store"] = store
    return context
