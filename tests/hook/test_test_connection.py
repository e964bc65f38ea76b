"""test_connection: one cheap authenticated GET, and a clear reason for each failure."""

from __future__ import annotations

import socket

import pytest


def closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_success(make_hook, emulator, crm_log):
    ok, message = make_hook().test_connection()
    assert ok, message
    assert "Patricia Boyle <patricia.boyle@example.com>" in message
    get, fields = crm_log()
    assert (get["method"], get["path"], get["query"]) == ("GET", "/crm/v8/users", {"type": "CurrentUser"})
    # the second read tells the user the preflight's scope works
    assert (fields["path"], fields["query"], fields["status"]) == (
        "/crm/v8/settings/fields",
        {"module": "Leads"},
        200,
    )
    assert "the preflight can read field metadata (ZohoCRM.settings.fields.READ)" in message


def test_a_grant_without_the_metadata_scope_is_usable_but_named(make_hook, emulator, crm_log):
    refresh = emulator.issue_refresh_token(
        scopes=["ZohoCRM.modules.ALL", "ZohoCRM.mass_update.ALL", "ZohoCRM.users.READ"]
    )
    ok, message = make_hook(refresh_token=refresh).test_connection()
    assert ok, message  # writes work with preflight=False
    assert "Patricia Boyle" in message
    assert "the grant lacks ZohoCRM.settings.fields.READ" in message
    assert "add the scope to the grant, or set preflight=False" in message
    assert [e["status"] for e in crm_log()] == [200, 401]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"login": "1000.CLIENTOFANOTHERDC"}, "wrong data centre"),
        ({"password": "wrong-secret"}, "wrong client id or secret"),
        ({"refresh_token": "1000.revoked.refresh"}, "refresh token invalid or revoked"),
        ({"access_token": "1000.never.issued", "refresh_token": None}, "rejected the static access_token"),
        ({"api_url": "http://10.0.0.1:1"}, "plain http"),
        ({"refresh_token": None}, "missing refresh_token"),
    ],
)
def test_failure_reasons(make_hook, emulator, overrides, reason):
    ok, message = make_hook(**overrides).test_connection()
    assert not ok
    assert reason in message
    assert emulator.counters()["requests"].get("GET /crm/v8/users", 0) <= 1


def test_unreachable_host(make_hook):
    url = f"http://127.0.0.1:{closed_loopback_port()}"
    ok, message = make_hook(accounts_url=url, api_url=url).test_connection()
    assert not ok
    assert message.startswith("Cannot reach Zoho")
    assert "ConnectionError" in message
    assert "gave up after 1 attempt(s)" in message  # the UI gets an answer at once


def test_mint_throttle_reason(make_hook, emulator):
    emulator.configure(mint_limit=0)
    ok, message = make_hook().test_connection()
    assert not ok
    assert message.startswith("Zoho refuses to mint more access tokens for now")  # not bad credentials
    assert "10 access tokens per 10 minutes" in message
    assert emulator.counters()["mints_throttled"] == 1


def test_token_cache_problems_are_not_blamed_on_zoho(make_hook, emulator, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    ok, message = make_hook(cache_dir=str(blocker)).test_connection()
    assert not ok
    assert message.startswith(f"Token cache: token cache directory {blocker} is not usable")
    pytest.importorskip("redis")
    ok, message = make_hook(cache=f"redis://127.0.0.1:{closed_loopback_port()}/0").test_connection()
    assert not ok
    assert message.startswith("Token cache: token cache redis at 127.0.0.1:")
    assert emulator.log() == []


@pytest.mark.parametrize(("fault", "status"), [("burst_5xx", "[HTTP 500]"), ("burst_429", "[HTTP 429]")])
def test_busy_or_failing_zoho_is_not_a_refusal(make_hook, emulator, fault, status):
    hook = make_hook()
    hook._tokens().get()  # mint first: the fault hits the probe's GET
    emulator.configure(**{fault: 1})
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Zoho failed or is busy, try again later")
    assert status in message
