"""
Secrets (client secret, refresh token, access tokens) across a real DAG run: absent from the task
logs, the XComs, every table of the metadata DB and the emulator's request log, except in the token
request body and the ``Authorization`` header.
"""

from __future__ import annotations

import json

from airflow_crm_provider.testing.emulator import defaults

OK, NOT_APPROVED = "738964000002131001", "1306462000000496025"
HOOK = {"max_attempts": 3, "backoff_base": 0.05, "max_retry_wait": 10.0, "max_token_wait": 0.0}


def test_secrets_only_where_they_belong(airflow_home, zoho_emulator):
    client = zoho_emulator.client
    client.configure(burst_5xx=1)  # a retried call logs its failure too
    code = airflow_home.run(
        "reliability_secrets", ids=[OK, NOT_APPROVED], data={"Lead_Status": "Contacted"}, hook_params=HOOK
    )
    assert code == 0, airflow_home.output()[-3000:]
    client.expire_tokens()  # a refresh and replay in a second run, then a request-level failure
    airflow_home.run(
        "reliability_secrets_failing", ids=[OK], data={"Email": "x@example.com"}, hook_params=HOOK
    )

    log = client.log()
    tokens = {e["headers"]["authorization"].split(" ", 1)[1] for e in log if "authorization" in e["headers"]}
    assert len(tokens) == 2
    secrets = {"client secret": defaults.CLIENT_SECRET, "refresh token": defaults.REFRESH_TOKEN}
    secrets.update({f"access token {n}": t for n, t in enumerate(sorted(tokens))})

    task_logs = airflow_home.output() + "".join(
        p.read_text(errors="replace") for p in (airflow_home.path / "logs").rglob("*") if p.is_file()
    )
    assert "Mass update of 2 Leads record(s)" in task_logs  # the task's own log is in there
    xcoms = json.dumps(airflow_home.query("SELECT key, value FROM xcom"), default=str)
    assert '"records"' in xcoms or "records" in xcoms
    database = airflow_home.dump()
    assert "reliability_secrets" in database
    token_requests, others = [], []
    for entry in log:
        headers = {k: v for k, v in entry["headers"].items() if k != "authorization"}
        if entry["path"].startswith("/oauth/"):
            token_requests.append(entry)
            entry = {**entry, "body": None}
        others.append(json.dumps({**entry, "headers": headers}))
    assert token_requests
    assert all(e["body"]["client_secret"] == defaults.CLIENT_SECRET for e in token_requests)
    places = {
        "task logs": task_logs,
        "xcoms": xcoms,
        "metadata DB": database,
        "request log": "\n".join(others),
    }
    leaks = [
        (name, where) for name, secret in secrets.items() for where, text in places.items() if secret in text
    ]
    assert leaks == []
