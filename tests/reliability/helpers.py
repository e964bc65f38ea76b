"""Running the public operator in this process the way the task runner does, with XComs kept as JSON."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator, ZohoCRMMassUpdateOperator
from airflow_crm_provider.operators.update_records import LeadsUpdateRecordsOperator
from airflow_crm_provider.operators.upsert import LeadsUpsertOperator
from airflow_crm_provider.version_compat import AirflowFailException, AirflowSkipException

#: Hook retries for chaos: enough attempts to outlast ~10% faults, short waits.
CHAOS_HOOK = {"max_attempts": 8, "backoff_base": 0.05, "max_retry_wait": 60.0, "max_token_wait": 0.0}


class TaskInstanceXComs:
    """The slice of a task instance the operator uses, storing values as the XCom backend (JSON)."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}
        self.try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = json.loads(json.dumps(value))


@dataclass
class TaskEnd:
    """How a task ended and what it pushed."""

    state: str
    error: BaseException | None
    pushed: dict[str, Any] = field(default_factory=dict)

    @property
    def records(self) -> list[dict[str, Any]]:
        return list(self.pushed.get("records") or [])

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.pushed.get("return_value") or {})


#: The write paths the suite covers: one value by mass update, a value per record by Update Records
#: (``trigger=[]``: no mass update in the plan), and Upsert (rows with ids, matched on Email).
ACTIONS = ("mass_update", "update_records", "upsert")


def action_kwargs(action: str, ids: list[str], field: str, value: str) -> dict[str, Any]:
    """
    Return the operator arguments that set ``field`` on ``ids`` by ``action``: see :func:`expected`.

    :param action: one of :data:`ACTIONS`.
    """
    if action == "mass_update":
        return {"ids": ids, "data": {field: value}}
    rows = [{"id": i, field: v} for i, v in expected(action, ids, value).items()]
    if action == "update_records":
        return {"action": action, "rows": rows, "trigger": []}
    return {"action": action, "rows": rows, "trigger": [], "duplicate_check_fields": ["Email"]}


def expected(action: str, ids: list[str], value: str) -> dict[str, str]:
    """Return id -> the value ``action`` sets: one for a mass update, one per record otherwise."""
    if action == "mass_update":
        return dict.fromkeys(ids, value)
    return {i: f"{value} #{n}" for n, i in enumerate(ids)}


def sent_ids(entry: dict[str, Any]) -> list[str]:
    """Return the record ids one logged write request carried (mass update, Update Records, Upsert)."""
    body = entry.get("body")
    if entry["method"] not in ("POST", "PUT") or not isinstance(body, dict) or entry.get("status") == 401:
        return []
    if entry["path"].endswith("/actions/mass_update"):
        return [str(i) for i in body.get("ids", [])]
    return [str(row["id"]) for row in body.get("data", []) if isinstance(row, dict) and "id" in row]


def writes_made(counters: dict[str, Any]) -> int:
    """Return the write requests the emulator admitted, of every kind."""
    return int(counters["mass_update_posts"] + counters["update_puts"] + counters["upsert_posts"])


def operator_class(action: str, module: bool = False) -> type:
    """Return the Leads operator of ``action`` (the generic mass update one with ``module``)."""
    if action == "update_records":
        return LeadsUpdateRecordsOperator
    if action == "upsert":
        return LeadsUpsertOperator
    return ZohoCRMMassUpdateOperator if module else LeadsMassUpdateOperator


def run_operator(**kwargs: Any) -> TaskEnd:
    """
    Build the operator (``Leads`` unless ``module`` is given) and run ``execute`` like the task runner.

    ``action`` (one of :data:`ACTIONS`, default ``mass_update``) picks the operator.
    """
    kwargs.setdefault("task_id", "set_leads")
    op = operator_class(kwargs.pop("action", "mass_update"), "module" in kwargs)(**kwargs)
    ti = TaskInstanceXComs()
    try:
        result = op.execute({"ti": ti})  # type: ignore[arg-type]
    except AirflowSkipException as err:
        return TaskEnd("skipped", err, ti.pushed)
    except AirflowFailException as err:
        return TaskEnd("failed", err, ti.pushed)
    except Exception as err:  # retryable: Airflow retries apply
        return TaskEnd("up_for_retry", err, ti.pushed)
    ti.xcom_push("return_value", result)
    return TaskEnd("success", None, ti.pushed)


class Expirer(threading.Thread):
    """
    Expire every access token as the run reaches given numbers of write requests.

    :param client: the emulator's admin client.
    :param at_posts: POST counts at which to expire, ascending.
    :param also: settings to apply at each expiry (e.g. ``{"drop_connections": 1}``).
    """

    def __init__(self, client: Any, at_posts: list[int], also: dict[str, Any] | None = None) -> None:
        super().__init__(daemon=True)
        self.client, self.at_posts, self.also = client, at_posts, also or {}
        self.done = 0
        self.stop = threading.Event()

    def run(self) -> None:
        for target in self.at_posts:
            while not self.stop.is_set() and writes_made(self.client.counters()) < target:
                self.stop.wait(0.02)
            if self.stop.is_set():
                return
            self.client.expire_tokens()
            if self.also:
                self.client.configure(**self.also)
            self.done += 1
