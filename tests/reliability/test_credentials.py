"""
Errors that say their cause: a missing connection, a wrong client secret and a revoked refresh
token end the task for good (no Airflow retries), every record says ``NOT_SENT``, and the log's
counts agree with the summary's. A token without ``ZohoCRM.org.READ`` is told so, once.
"""

from __future__ import annotations

import json
import logging

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID, SEED_IDS
from tests.reliability.helpers import run_operator

HOOK = {"max_attempts": 3, "backoff_base": 0.05, "max_retry_wait": 10.0, "max_token_wait": 0.0}
DATA = {"Lead_Status": "Contacted"}
IDS = list(SEED_IDS[:2])


def _set_conn(monkeypatch, zoho_emulator, **overrides) -> None:
    conn = zoho_emulator.connection_dict(**{k: v for k, v in overrides.items() if k != "password"})
    if "password" in overrides:
        conn["password"] = overrides["password"]
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", json.dumps(conn))


def _assert_final_and_not_sent(end, caplog, cause: str) -> None:
    assert end.state == "failed", end.error  # AirflowFailException: no Airflow retry is burnt
    assert [r["code"] for r in end.records] == ["NOT_SENT"] * len(IDS)
    assert all(cause in r["message"] for r in end.records), end.records
    assert end.summary["outcome"] == "failed"
    assert cause in end.summary["reason"]
    assert not any(end.summary["calls"].values()), end.summary["calls"]
    lines = [r.getMessage() for r in caplog.records]
    assert not any("mass update call(s) made" in line for line in lines), lines  # none was made
    assert not any("transient error" in line for line in lines), lines


def test_missing_connection_is_final(zoho_emulator, caplog):
    caplog.set_level(logging.INFO)
    end = run_operator(ids=IDS, data=DATA, zoho_crm_conn_id="no_such_connection", hook_params=HOOK)
    assert end.state == "failed", end.error
    assert [r["code"] for r in end.records] == ["NOT_SENT"] * len(IDS)
    assert "no_such_connection" in end.summary["reason"]
    assert not any("transient error" in r.getMessage() for r in caplog.records)
    assert zoho_emulator.client.log() == []


@pytest.mark.parametrize(
    ("overrides", "cause"),
    [
        ({"password": "wrong-secret"}, "invalid_client"),
        ({"refresh_token": "1000.revoked.revoked"}, "invalid_code"),
    ],
)
def test_refused_credentials_are_final_and_records_say_not_sent(
    zoho_emulator, monkeypatch, caplog, overrides, cause
):
    _set_conn(monkeypatch, zoho_emulator, **overrides)
    caplog.set_level(logging.INFO)
    end = run_operator(ids=IDS, data=DATA, hook_params=HOOK)
    _assert_final_and_not_sent(end, caplog, cause)
    assert zoho_emulator.client.counters()["mass_update_posts"] == 0
    assert all(e["path"] == "/oauth/v2/token" for e in zoho_emulator.client.log())


def test_refused_credentials_in_job_mode_are_final(zoho_emulator, monkeypatch):
    _set_conn(monkeypatch, zoho_emulator, password="wrong-secret")
    end = run_operator(cvid=LEADS_VIEW_ID, data=DATA, hook_params=HOOK)
    assert end.state == "failed", end.error
    assert "invalid_client" in end.summary["reason"]
    assert zoho_emulator.client.counters()["mass_update_posts"] == 0


def test_org_scope_missing_is_said_once_and_not_paid_again(zoho_emulator, monkeypatch, caplog):
    client = zoho_emulator.client
    scopes = ["ZohoCRM.mass_update.leads.UPDATE", "ZohoCRM.modules.leads.READ", "ZohoCRM.users.READ"]
    _set_conn(monkeypatch, zoho_emulator, refresh_token=client.issue_refresh_token(scopes=scopes))
    caplog.set_level(logging.WARNING)
    first = run_operator(ids=IDS, data=DATA, hook_params=HOOK, min_credits_remaining=10)
    second = run_operator(ids=IDS, data=DATA, hook_params=HOOK, min_credits_remaining=10)

    assert (first.state, second.state) == ("success", "success"), (first.error, second.error)
    org_calls = [e for e in client.log() if e["path"].endswith("/org")]
    assert len(org_calls) == 1  # refused once; this process does not ask (and pay) again
    warned = [r.getMessage() for r in caplog.records if "ZohoCRM.org.READ" in r.getMessage()]
    assert len(warned) == 2, warned  # each run's log says once why it goes on without knowing
    assert "scope" in warned[0]


def test_connection_test_names_the_scope_it_lacks(zoho_emulator, monkeypatch):
    client = zoho_emulator.client
    token = client.issue_refresh_token(scopes=["ZohoCRM.mass_update.leads.UPDATE"])
    _set_conn(monkeypatch, zoho_emulator, refresh_token=token)
    ok, message = ZohoCRMHook().test_connection()
    assert not ok
    assert "ZohoCRM.users.READ" in message
    assert "ZohoCRM.org.READ" in message
