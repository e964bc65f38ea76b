"""
Every code of the error policy table, produced by the emulator (nothing rewritten), through the
public operator: the record outcome and task outcome each code ends in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_crm_provider.operators.mass_update import ZohoCRMMassUpdateOperator
from airflow_crm_provider.testing.emulator import CLIENT_ID, CLIENT_SECRET, EMPTY_VIEW_ID, LEADS_VIEW_ID
from airflow_crm_provider.zoho.errors import DEFAULT_ERROR_CLASSES
from tests.operator.helpers import FAST_HOOK, LOCKED, NOT_APPROVED, OK_1, OK_2, mass_update_posts, run_task

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_crm_provider.testing.client import EmulatorClient
    from airflow_crm_provider.testing.process import RunningEmulator

UNKNOWN_ID = "738964999999999999"
BLUEPRINT_ID, STOPPED_ID = "738964000009100001", "738964000009100002"


@dataclass
class Case:
    """How the emulator is made to answer a code, and what the operator must end with."""

    code: str
    #: prepares the emulator (and may return connection extras to use)
    setup: Callable[[RunningEmulator], dict[str, Any] | None]
    #: task state: success, skipped, failed or up_for_retry
    state: str
    #: id -> expected record outcome (ids mode); None: job mode, no per-record list to check
    records: dict[str, str] | None = None
    operator: dict[str, Any] = field(default_factory=dict)
    #: the code the failing task names in its error, or the record carries
    named: bool = True


def _refuse(code: str, times: int | None = None, operation: str = "mass_update") -> Callable[..., None]:
    return lambda emulator: emulator.client.refuse(code, operation=operation, times=times) and None


def _scopeless(emulator: RunningEmulator) -> dict[str, Any]:
    refresh = emulator.client.issue_refresh_token(scopes=["ZohoCRM.modules.ALL", "ZohoCRM.users.READ"])
    return {"refresh_token": refresh}


def _blocked(emulator: RunningEmulator) -> None:
    emulator.client.seed(in_blueprint=[BLUEPRINT_ID], cannot_process=[STOPPED_ID])


def _running_job(emulator: RunningEmulator) -> None:
    client = emulator.client
    client.configure(job_duration=30)
    token = client.issue_token()
    requests.post(
        f"{emulator.url}/crm/v8/Leads/actions/mass_update",
        json={"data": [{"City": "Oslo"}], "cvid": LEADS_VIEW_ID},
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        timeout=10,
    ).raise_for_status()


def _evict_the_cached_token(emulator: RunningEmulator) -> None:
    """Mint 15 more tokens from the connection's refresh token after the first run cached one."""
    client = emulator.client
    client.configure(mint_limit=100)
    run_task(_operator(ids=[OK_1]))  # caches a token
    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    for _ in range(15):
        form["refresh_token"] = emulator.connection_dict()["extra"]["refresh_token"]
        requests.post(f"{emulator.url}/oauth/v2/token", data=form, timeout=10).raise_for_status()
    assert client.counters()["tokens_evicted"] == 1


JOB = {"cvid": LEADS_VIEW_ID, "ids": None, "poll_interval": 0.05}
BOTH_FAILED = {OK_1: "failed", OK_2: "failed"}
CASES = [
    Case(
        "INVALID_DATA",
        lambda e: None,
        "failed",
        {OK_1: "updated", UNKNOWN_ID: "failed"},
        {"ids": [OK_1, UNKNOWN_ID]},
    ),
    Case("MANDATORY_NOT_FOUND", _refuse("MANDATORY_NOT_FOUND"), "failed", BOTH_FAILED),
    # Zoho's answers to the write itself (the preflight's are tested in test_preflight.py)
    Case("INVALID_MODULE", lambda e: None, "failed", BOTH_FAILED, {"module": "Leadz", "preflight": False}),
    Case("INVALID_URL_PATTERN", _refuse("INVALID_URL_PATTERN"), "failed", BOTH_FAILED),
    Case("INVALID_REQUEST_METHOD", _refuse("INVALID_REQUEST_METHOD"), "failed", BOTH_FAILED),
    Case("OAUTH_SCOPE_MISMATCH", _scopeless, "failed", BOTH_FAILED, {"preflight": False}),
    Case("NO_PERMISSION", _refuse("NO_PERMISSION"), "failed", BOTH_FAILED),
    Case("AUTHORIZATION_FAILED", _refuse("AUTHORIZATION_FAILED"), "failed", BOTH_FAILED),
    Case("AUTHENTICATION_FAILURE", _refuse("AUTHENTICATION_FAILURE"), "failed", BOTH_FAILED),
    Case("INVALID_TOKEN", _refuse("INVALID_TOKEN"), "failed", BOTH_FAILED),
    Case("INVALID_OAUTHTOKEN", _refuse("INVALID_OAUTHTOKEN"), "failed", BOTH_FAILED),
    Case("LIMIT_EXCEEDED", _refuse("LIMIT_EXCEEDED"), "failed", BOTH_FAILED),
    Case("CANNOT_PERFORM_ACTION", _refuse("CANNOT_PERFORM_ACTION"), "failed", BOTH_FAILED),
    Case(
        "NOT_APPROVED",
        lambda e: None,
        "success",
        {OK_1: "updated", NOT_APPROVED: "skipped"},
        {"ids": [OK_1, NOT_APPROVED]},
    ),
    Case(
        "RECORD_IN_BLUEPRINT",
        _blocked,
        "success",
        {OK_1: "updated", BLUEPRINT_ID: "skipped"},
        {"ids": [OK_1, BLUEPRINT_ID]},
    ),
    Case("CANNOT_PROCESS", _blocked, "skipped", {STOPPED_ID: "skipped"}, {"ids": [STOPPED_ID]}),
    Case("NO_RECORDS_FOUND", lambda e: None, "skipped", None, {**JOB, "cvid": EMPTY_VIEW_ID}),
    Case("ALREADY_SCHEDULED", _running_job, "skipped", None, JOB),
    Case(
        "RECORD_LOCKED",
        lambda e: None,
        "success",
        {OK_1: "updated", LOCKED: "skipped"},
        {"ids": [OK_1, LOCKED]},
    ),
    Case("TOO_MANY_REQUESTS", _refuse("TOO_MANY_REQUESTS"), "up_for_retry", {OK_1: "failed", OK_2: "failed"}),
    Case("INTERNAL_ERROR", _refuse("INTERNAL_ERROR"), "up_for_retry", {OK_1: "failed", OK_2: "failed"}),
]
#: The same codes when Zoho answers them once only: retried or refreshed, then the update goes through.
TRANSIENT = [
    Case(
        "TOO_MANY_REQUESTS",
        _refuse("TOO_MANY_REQUESTS", times=1),
        "success",
        {OK_1: "updated", OK_2: "updated"},
    ),
    Case("INTERNAL_ERROR", _refuse("INTERNAL_ERROR", times=1), "success", {OK_1: "updated", OK_2: "updated"}),
    Case("INVALID_TOKEN", _refuse("INVALID_TOKEN", times=1), "success", {OK_1: "updated", OK_2: "updated"}),
    Case("INVALID_OAUTHTOKEN", _evict_the_cached_token, "success", {OK_1: "updated", OK_2: "updated"}),
    Case(
        "AUTHENTICATION_FAILURE",
        _refuse("AUTHENTICATION_FAILURE", times=1),
        "success",
        {OK_1: "updated", OK_2: "updated"},
    ),
]


def _operator(**kwargs: Any) -> ZohoCRMMassUpdateOperator:
    kwargs = {"module": "Leads", "data": {"Lead_Status": "Contacted"}, "ids": [OK_1, OK_2], **kwargs}
    kwargs.setdefault("hook_params", FAST_HOOK)
    kwargs.setdefault("locked_retries", 1)
    kwargs.setdefault("locked_retry_delay", 0)
    return ZohoCRMMassUpdateOperator(task_id="policy_codes", **kwargs)


def test_every_code_of_the_policy_table_has_a_case() -> None:
    # CHANGED_SINCE is ours, not Zoho's: the revert operator's tests run it (tests/operator/test_revert.py)
    assert sorted(c.code for c in CASES) == sorted(set(DEFAULT_ERROR_CLASSES) - {"CHANGED_SINCE"})


def _check(case: Case, zoho_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    extras = case.setup(zoho_emulator)
    if extras:
        monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", zoho_emulator.connection_json(**extras))
    out = run_task(_operator(**case.operator))

    assert out.state == case.state, (out.error, out.records)
    assert out.summary is not None
    assert out.summary["outcome"] == ("failed" if out.state == "up_for_retry" else out.state)
    if case.records is not None:
        assert {r["id"]: r["outcome"] for r in out.records} == case.records
    if case.state in ("failed", "up_for_retry", "skipped") and case.named:
        seen = str(out.error) + " ".join(str(r.get("code")) for r in out.records or [])
        assert case.code in seen, seen


@pytest.mark.parametrize("case", CASES, ids=[c.code for c in CASES])
def test_each_code_ends_the_task_as_the_policy_says(
    case: Case, zoho_crm_conn: str, zoho_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(case, zoho_emulator, monkeypatch)
    if DEFAULT_ERROR_CLASSES[case.code].value == "fail" and case.records == BOTH_FAILED:
        assert zoho_emulator.client.counters()["records_changed"] == 0


@pytest.mark.parametrize("case", TRANSIENT, ids=[c.code for c in TRANSIENT])
def test_a_passing_code_is_retried_or_refreshed_through(
    case: Case, zoho_crm_conn: str, zoho_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(case, zoho_emulator, monkeypatch)
    client: EmulatorClient = zoho_emulator.client
    assert client.record("Leads", OK_2)["Lead_Status"] == "Contacted"
    assert len(mass_update_posts(client)) >= 2  # the refused one, then the one that went through
