"""Constants and helpers shared by the operator tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_crm_provider.version_compat import AirflowFailException, AirflowSkipException
from tests.operator.fakes import make_context

#: Default Leads of the emulator (the seed's records).
OK_1, OK_2 = "738964000002131001", "738964000002130131"
NOT_APPROVED = "1306462000000496025"
LOCKED = "475243000003269880"
#: Hook retries kept small so transient-failure tests stay fast.
#: One attempt per request, no token wait: a fault ends the call at once.
ONE_ATTEMPT = {"max_attempts": 1, "backoff_base": 0.01, "max_retry_wait": 2.0, "max_token_wait": 0.0}
FAST_HOOK = {"max_attempts": 2, "backoff_base": 0.01, "max_retry_wait": 2.0, "max_token_wait": 0.0}


@dataclass
class Outcome:
    """What a task run ended with, and the XComs it pushed."""

    state: str
    summary: dict[str, Any] | None
    records: list[dict[str, Any]] | None
    error: BaseException | None = None
    pushed: dict[str, Any] = field(default_factory=dict)

    def by_id(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.records or []}


def run_task(op, context: dict[str, Any] | None = None) -> Outcome:
    """Render nothing, call ``execute`` like the task runner does, and capture how it ended."""
    context = context if context is not None else make_context()
    ti = context["ti"]
    try:
        result = op.execute(context)
    except AirflowSkipException as err:
        state, error = "skipped", err
    except AirflowFailException as err:
        state, error = "failed", err
    except Exception as err:  # retryable: Airflow retries apply
        state, error = "up_for_retry", err
    else:
        if op.do_xcom_push:
            ti.xcom_push(key="return_value", value=result)
        state, error = "success", None
    return Outcome(state, ti.pushed.get("return_value"), ti.pushed.get("records"), error, ti.pushed)


def mass_update_posts(client) -> list[dict[str, Any]]:
    return [e for e in client.log() if e["method"] != "GET" and e["path"].endswith("/actions/mass_update")]


def crm_requests(client) -> list[dict[str, Any]]:
    return [e for e in client.log() if "/crm/" in e["path"]]


def posts_per_id(client) -> dict[str, int]:
    """How often each id reached Zoho's mass update (refused tokens do not count: nothing was applied)."""
    counts: dict[str, int] = {}
    for post in (p for p in mass_update_posts(client) if p["status"] != 401):
        for record_id in post["body"]["ids"]:
            counts[record_id] = counts.get(record_id, 0) + 1
    return counts
