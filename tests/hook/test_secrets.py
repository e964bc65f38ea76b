"""Secrets stay where they belong: request bodies to the accounts server, the Authorization header."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_crm_provider.testing.emulator import CLIENT_SECRET, LEADS_VIEW_ID, REFRESH_TOKEN, SEED_IDS
from airflow_crm_provider.zoho.errors import ZohoCRMError


def _exercise(make_hook, emulator) -> tuple[list[str], list[object], list[object]]:
    """Run a busy session: mints, replays, retries, errors. Return error texts, results, objects."""
    errors: list[str] = []
    results: list[object] = []
    hook = make_hook()
    results.append(hook.test_connection())
    results.append(hook.mass_update("Leads", {"City": "Oslo"}, list(SEED_IDS)))
    emulator.expire_tokens()
    results.append(hook.get_records("Leads", list(SEED_IDS), ["City"]))
    job_id = hook.mass_update_by_view("Leads", {"City": "Lyon"}, LEADS_VIEW_ID)
    results.append(hook.get_mass_update_status("Leads", job_id))
    emulator.configure(burst_429=1, burst_5xx=1, drop_connections=1)
    results.append(hook.mass_update("Leads", {"City": "Rome"}, [SEED_IDS[0]]))
    data = {"City": "X"}
    failing = [
        ({"burst_429": 10}, lambda: hook.mass_update("Leads", data, [SEED_IDS[0]])),
        ({"burst_429": 0}, lambda: hook.mass_update("Leads", {}, [SEED_IDS[0]])),
        ({}, lambda: make_hook("zoho_bad", password="wrong-secret-value").mass_update("Leads", data, ["1"])),
        ({}, lambda: make_hook("zoho_rt", refresh_token="1000.revoked.x").mass_update("Leads", data, ["1"])),
    ]
    for config, call in failing:
        emulator.configure(**config)
        with pytest.raises(ZohoCRMError) as err:
            call()
        errors += [str(err.value), repr(err.value), err.value.describe()]
    emulator.configure(burst_429=1)
    with pytest.raises(ZohoCRMError) as err:
        make_hook(hook_kwargs={"max_attempts": 1}).get_records("Leads", ["1"], ["City"])
    errors.append(str(err.value))
    return errors, results, [hook, hook.settings, hook._tokens(), hook._tokens().get()]


async def test_secrets_appear_only_where_they_must(make_hook, emulator, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    errors, results, objects = _exercise(make_hook, emulator)
    make_hook().get_records("Leads", [SEED_IDS[0]], ["City"])  # sync path after the error calls
    results.append(await make_hook().aget_mass_update_status("Leads", results[3]["job_id"]))

    log = emulator.log()
    access_tokens = {
        e["headers"]["authorization"].split(" ", 1)[1] for e in log if "authorization" in e["headers"]
    }
    assert len(access_tokens) >= 2  # at least the first token and the one after expiry
    for entry in log:
        is_token_request = entry["path"] == "/oauth/v2/token"
        outside_body = json.dumps([entry["path"], entry["query"], entry["headers"]])
        body = json.dumps(entry["body"])
        for secret in (CLIENT_SECRET, REFRESH_TOKEN, "wrong-secret-value"):
            assert secret not in outside_body
            assert is_token_request or secret not in body
        other_headers = {k: v for k, v in entry["headers"].items() if k != "authorization"}
        for token in access_tokens:
            assert token not in json.dumps([entry["path"], entry["query"], other_headers, entry["body"]])
        if not is_token_request:
            assert "authorization" in entry["headers"]

    captured = capsys.readouterr()
    texts = {
        "logs": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
        "stdout/stderr": captured.out + captured.err,
        "exceptions": "\n".join(errors),
        "results (XCom)": json.dumps(results, default=str),
        "reprs": "\n".join(repr(o) for o in objects),
    }
    for where, text in texts.items():
        for secret in (CLIENT_SECRET, REFRESH_TOKEN, "wrong-secret-value", *access_tokens):
            assert secret not in text, f"a secret leaked into {where}"


def test_tokens_and_connection_secrets_are_masked(make_hook):
    from airflow.sdk._shared.secrets_masker import redact

    hook = make_hook()
    token = hook._tokens().get().value
    for secret in (token, CLIENT_SECRET, REFRESH_TOKEN):
        assert redact(f"value {secret} here") == "value *** here"


def test_file_cache_dir_holds_no_secret(make_hook, zoho_emulator):
    import pathlib

    make_hook().test_connection()
    for path in pathlib.Path(zoho_emulator.cache_dir).iterdir():
        text = path.read_text()
        assert CLIENT_SECRET not in text
        assert REFRESH_TOKEN not in text
