"""Tokens against the emulator: reuse, single flight across processes, expiry, replay, throttle."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from airflow_crm_provider.testing.emulator import CLIENT_SECRET, REFRESH_TOKEN, SEED_IDS
from airflow_crm_provider.zoho.errors import ZohoAuthError, ZohoTokenThrottledError


def test_token_is_reused_across_hook_instances(make_hook, emulator, token_log):
    make_hook().test_connection()
    make_hook().mass_update("Leads", {"City": "Oslo"}, [SEED_IDS[0]])
    make_hook().get_records("Leads", [SEED_IDS[0]], ["City"])
    assert emulator.counters()["tokens_minted"] == 1
    (mint,) = token_log()
    assert mint["method"] == "POST"
    assert mint["query"] == {}  # credentials travel in the form body, never in the URL
    assert mint["body"]["grant_type"] == "refresh_token"


def test_file_cache_is_private_and_holds_no_refresh_token_or_secret(make_hook, zoho_emulator):
    make_hook().test_connection()
    directory = zoho_emulator.cache_dir
    files = [f for f in os.listdir(directory) if f.endswith(".json")]
    assert len(files) == 1
    path = os.path.join(directory, files[0])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        content = handle.read()
    assert set(json.loads(content)) == {"access_token", "expires_at", "api_domain"}
    for secret in (REFRESH_TOKEN, CLIENT_SECRET):
        assert secret not in content
        assert secret not in files[0]


@pytest.mark.redis
def test_redis_cache_shares_tokens(make_hook, emulator, redis_url):
    url = redis_url
    make_hook(cache=url).test_connection()
    make_hook(cache=url).get_records("Leads", [SEED_IDS[0]], ["City"])
    assert emulator.counters()["tokens_minted"] == 1


def test_memory_cache_is_per_process(make_hook, emulator):
    make_hook(cache="memory", cache_dir=None).test_connection()
    make_hook(cache="memory", cache_dir=None).test_connection()
    assert emulator.counters()["tokens_minted"] == 1


# One process of the single-flight test: build the token source (the hook's own), wait for "go",
# then ask for a token and use it once. Airflow's secret masker is stubbed to keep start-up cheap.
_CHILD = textwrap.dedent(
    """
    import json, sys, types
    import requests
    import airflow_crm_provider.zoho.auth.source as source
    from airflow_crm_provider.zoho.settings import ZohoConnectionSettings
    from airflow_crm_provider.zoho.retries import Retries

    source._mask = lambda secret: None
    conn = json.loads(sys.argv[1])
    settings = ZohoConnectionSettings.from_connection(
        types.SimpleNamespace(conn_id="zoho", login=conn["login"], password=conn["password"]), conn["extra"]
    )
    session = requests.Session()
    tokens = source.token_source(settings, session, Retries(4, 30, 0.01), 5.0)
    print("ready", flush=True)
    sys.stdin.readline()
    token = tokens.get()
    url = f"{settings.api_base(token.api_domain)}/crm/v8/users"
    headers = {"Authorization": f"Zoho-oauthtoken {token.value}"}
    ok = session.get(url, params={"type": "CurrentUser"}, headers=headers, timeout=30).ok
    print(json.dumps({"ok": ok, "token": token.value[-8:]}), flush=True)
    """
)

# The same with the real hook (imports Airflow: about 4 s of CPU per process).
_CHILD_HOOK = textwrap.dedent(
    """
    import json, sys
    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook

    hook = ZohoCRMHook(backoff_base=0.01)
    hook.settings
    print("ready", flush=True)
    sys.stdin.readline()
    ok = hook.get_records("Leads", ["738964000002131001"], ["City"]) != {}
    token = hook._tokens().get()
    print(json.dumps({"ok": ok, "token": token.value[-8:]}), flush=True)
    """
)


def _run_concurrently(script: str, count: int, conn_json: str) -> list[dict]:
    env = {**os.environ, "AIRFLOW_CONN_ZOHO_CRM_DEFAULT": conn_json}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, conn_json],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for proc in procs:  # everyone is ready before anyone asks for a token
            for line in proc.stdout:  # (Airflow may log to stdout first)
                if line.strip() == "ready":
                    break
            else:
                pytest.fail(f"a child process exited early: {proc.communicate(timeout=30)[1]}")
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def test_twenty_processes_mint_exactly_once(zoho_emulator, emulator):
    results = _run_concurrently(_CHILD, 20, zoho_emulator.connection_json())
    assert all(r["ok"] for r in results)
    assert len({r["token"] for r in results}) == 1
    assert emulator.counters()["tokens_minted"] == 1


@pytest.mark.redis
def test_processes_sharing_redis_mint_exactly_once(zoho_emulator, emulator, redis_url):
    url = redis_url
    conn_json = zoho_emulator.connection_json(cache=url, cache_dir=None)
    results = _run_concurrently(_CHILD, 8, conn_json)
    assert all(r["ok"] for r in results)
    assert len({r["token"] for r in results}) == 1
    assert emulator.counters()["tokens_minted"] == 1


@pytest.mark.slow
def test_hook_processes_mint_exactly_once(zoho_emulator, emulator):
    results = _run_concurrently(_CHILD_HOOK, 8, zoho_emulator.connection_json())
    assert all(r["ok"] for r in results)
    assert len({r["token"] for r in results}) == 1
    assert emulator.counters()["tokens_minted"] == 1


def test_expired_token_mid_run_is_refreshed_and_replayed(make_hook, emulator, crm_log):
    hook = make_hook()
    hook.mass_update("Leads", {"City": "Oslo"}, [SEED_IDS[0]])
    assert emulator.expire_tokens() == 1
    entries = hook.mass_update("Leads", {"City": "Lyon"}, [SEED_IDS[1]])
    assert entries[0]["code"] == "SUCCESS"
    assert emulator.counters()["tokens_minted"] == 2
    assert [e["status"] for e in crm_log()] == [200, 401, 200]
    rejected, replayed = crm_log()[1:]
    assert rejected["body"] == replayed["body"]
    assert rejected["headers"]["authorization"] != replayed["headers"]["authorization"]


def test_short_token_ttl_refreshes_ahead_of_expiry(make_hook, emulator, crm_log):
    # used for 3 s (a quarter of a short lifetime is kept as margin); long enough that a loaded machine
    # does not let the second token age past its margin between its mint and its use
    emulator.configure(token_ttl=4)
    hook = make_hook()
    hook.test_connection()
    time.sleep(3.1)
    hook.get_records("Leads", [SEED_IDS[0]], ["City"])
    assert emulator.counters()["tokens_minted"] == 2
    assert [e["status"] for e in crm_log()] == [200, 200]  # refreshed before Zoho had to refuse


def test_a_minted_token_refused_before_it_ever_worked_is_an_auth_error(make_hook, emulator, crm_log):
    emulator.configure(token_ttl=0)  # every minted token is dead on arrival
    with pytest.raises(ZohoAuthError, match="three access tokens in a row") as err:
        make_hook().mass_update("Leads", {"City": "Oslo"}, [SEED_IDS[0]])
    assert (err.value.code, err.value.http_status) == ("INVALID_TOKEN", 401)
    assert len(crm_log()) == 3  # two replays with newer tokens (a burst of expiries), no more
    assert emulator.counters()["tokens_minted"] == 3  # mints are scarce: 10 per 10 minutes


def test_a_token_that_worked_and_went_stale_mid_replay_is_replaced_again(make_hook, emulator, crm_log):
    """A second rejection during a replay is not a permanent failure."""
    hook = make_hook()
    hook.mass_update("Leads", {"City": "Oslo"}, [SEED_IDS[0]])  # token 1 works
    emulator.expire_tokens()  # token 1 expires: this call is refused and asks for a newer one
    real = hook._tokens().get

    def get(rejected=None, cause=None):
        token = real(rejected, cause)
        if rejected is not None and emulator.counters()["tokens_minted"] == 2:
            hook._tokens().accepted(token.value)  # token 2 worked for another thread of this task
            emulator.expire_tokens()
        return token

    hook._tokens().get = get
    entries = hook.mass_update("Leads", {"City": "Lyon"}, [SEED_IDS[1]])
    assert entries[0]["code"] == "SUCCESS"
    assert [e["status"] for e in crm_log()] == [200, 401, 401, 200]
    assert emulator.counters()["tokens_minted"] == 3


def test_invalid_token_from_a_stale_cache_entry_is_replaced(make_hook, emulator, crm_log):
    from airflow_crm_provider.zoho.auth import AccessToken

    hook = make_hook()
    hook._tokens()._cache.store(AccessToken("1000.stale.token", time.time() + 600, None))
    assert hook.get_records("Leads", [SEED_IDS[0]], ["City"])
    assert [e["status"] for e in crm_log()] == [401, 200]
    assert emulator.counters()["tokens_minted"] == 1


def test_mint_throttle_is_waited_out(make_hook, emulator):
    emulator.configure(mint_limit=1, mint_window=1.5)
    hook = make_hook()
    hook.test_connection()
    emulator.expire_tokens()
    sleeps: list[float] = []
    hook._sleep = lambda s: (sleeps.append(s), time.sleep(s))
    hook._token_source = None  # rebuild with the recording sleep
    assert hook.get_records("Leads", [SEED_IDS[0]], ["City"])
    counters = emulator.counters()
    assert counters["tokens_minted"] == 2
    assert counters["mints_throttled"] >= 1
    assert len(sleeps) == counters["mints_throttled"]  # one wait per refusal, never hammering


def test_mint_throttle_fails_after_the_bound(make_hook, emulator):
    emulator.configure(mint_limit=0)
    hook = make_hook(hook_kwargs={"max_token_wait": 0.3})
    with pytest.raises(ZohoTokenThrottledError, match="at most 10 access tokens per 10 minutes") as err:
        hook.mass_update("Leads", {"City": "Oslo"}, [SEED_IDS[0]])
    assert err.value.code == "Access Denied"
    throttled = emulator.counters()["mints_throttled"]
    assert 2 <= throttled <= 5  # backed off, did not hammer the accounts server
    assert emulator.counters()["requests"].get("POST /crm/v8/Leads/actions/mass_update") is None


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"login": "1000.OTHERDATACENTRECLIENT"}, "wrong data centre"),
        ({"password": "not-the-secret"}, "wrong client id or secret"),
        ({"refresh_token": "1000.revoked.token"}, "refresh token invalid or revoked"),
    ],
)
def test_token_endpoint_refusals(make_hook, emulator, crm_log, overrides, text):
    with pytest.raises(ZohoAuthError, match=text) as err:
        make_hook(**overrides).mass_update("Leads", {"City": "Oslo"}, [SEED_IDS[0]])
    assert err.type is ZohoAuthError
    assert crm_log() == []
    assert emulator.counters()["requests"] == {"POST /oauth/v2/token": 1}  # not retried


def test_static_token_mode_never_calls_accounts(make_hook, emulator, token_log):
    token = emulator.issue_token()
    hook = make_hook(access_token=token, refresh_token=None)
    assert hook.mass_update("Leads", {"City": "Oslo"}, [SEED_IDS[0]])[0]["code"] == "SUCCESS"
    assert hook.test_connection()[0]
    assert token_log() == []


def test_static_token_rejected_is_a_clear_auth_error(make_hook, emulator, crm_log, token_log):
    hook = make_hook(access_token="1000.not.issued", refresh_token=None)
    with pytest.raises(ZohoAuthError, match="rejected the static access_token") as err:
        hook.mass_update("Leads", {"City": "Oslo"}, [SEED_IDS[0]])
    assert err.type is ZohoAuthError
    assert (err.value.code, err.value.http_status) == ("INVALID_TOKEN", 401)
    assert len(crm_log()) == 1
    assert token_log() == []
