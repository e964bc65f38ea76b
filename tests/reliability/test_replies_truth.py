"""Token rejections during a replay, and calls that time out after Zoho applied them."""

from __future__ import annotations

import time

import requests

from tests.reliability.helpers import run_operator

OK = "738964000002131001"


def test_second_token_expiry_during_a_replay_refreshes_again(zoho_crm_conn, zoho_emulator, monkeypatch):
    client = zoho_emulator.client
    real_send = requests.Session.send
    sends = []

    def send(self, request, **kwargs):
        if request.url and "/actions/mass_update" in request.url:
            sends.append(request.headers.get("Authorization"))
            if len(sends) == 1:
                client.expire_tokens()  # token A rejected: refresh to B and replay
            elif len(sends) == 2:
                client.configure(burst_5xx=1)  # B's call meets a 500 and is retried with B
            elif len(sends) == 3:
                client.expire_tokens()  # B rejected in turn: a newer token can be minted
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    hook = {"max_attempts": 4, "backoff_base": 0.01, "max_retry_wait": 10.0, "max_token_wait": 0.0}
    # the faults aim at the write: no preflight read before it
    end = run_operator(
        ids=[OK], data={"Lead_Status": "Twice"}, max_concurrency=1, hook_params=hook, preflight=False
    )

    assert len(set(sends[:3])) == 2  # A, then B twice
    assert end.state == "success", end.error
    assert client.record("Leads", OK)["Lead_Status"] == "Twice"
    assert client.counters()["tokens_minted"] == 3  # 1 + 2 expiries


def test_timed_out_but_applied_call_is_not_reported_not_sent(zoho_emulator, monkeypatch):
    client = zoho_emulator.client
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", zoho_emulator.connection_json(read_timeout="0.5"))
    client.configure(latency=1.5)
    hook = {"max_attempts": 1, "max_retry_wait": 5.0, "max_token_wait": 0.0}
    end = run_operator(
        ids=[OK], data={"Lead_Status": "Applied late"}, max_concurrency=1, hook_params=hook, preflight=False
    )
    time.sleep(1.5)  # the emulator finishes the call the client gave up on

    assert client.record("Leads", OK)["Lead_Status"] == "Applied late"
    (record,) = end.records
    assert record["code"] != "NOT_SENT", record
    assert "not applied" not in record["message"], record
