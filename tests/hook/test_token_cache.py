from __future__ import annotations

import json
import multiprocessing
import os
import stat
import time

import pytest

from airflow_crm_provider.zoho.auth import (
    AccessToken,
    FileTokenCache,
    MemoryTokenCache,
    RedisTokenCache,
    TokenCacheError,
    TokenCacheUnavailable,
    lifetime_seconds,
    parse_token_reply,
)
from airflow_crm_provider.zoho.errors import (
    ZohoAuthError,
    ZohoRateLimitError,
    ZohoServerError,
    ZohoTokenThrottledError,
    ZohoTransientError,
)
from airflow_crm_provider.zoho.http import Reply
from airflow_crm_provider.zoho.settings import ZohoConnectionSettings

SETTINGS = ZohoConnectionSettings(
    conn_id="zoho",
    accounts_url="https://accounts.zoho.eu",
    api_url="https://www.zohoapis.eu",
    client_id="1000.CLIENT",
    client_secret="client-secret",
    refresh_token="1000.refresh.token",
)


def reply(body, status=200, headers=None) -> Reply:
    return Reply(status, headers or {}, json.dumps(body) if not isinstance(body, str) else body)


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        ({"expires_in": 3600}, 3600),
        ({"expires_in": 3600000}, 3600),
        ({"expires_in": 3600000, "expires_in_sec": 3600}, 3600),
        ({"expires_in_sec": 120}, 120),
        ({}, 3600),
        ({"expires_in": "soon"}, 3600),
        ({"expires_in": "nan"}, 3600),
        ({"expires_in_sec": "inf"}, 3600),
        ({"expires_in": -5}, 3600),
        ({"expires_in": 0}, 0),
    ],
)
def test_lifetime_units(body, seconds):
    assert lifetime_seconds(body) == seconds


def test_parse_token_reply_refreshes_ahead_of_expiry():
    before = time.time()
    token = parse_token_reply(
        reply({"access_token": "1000.a.b", "expires_in": 3600, "api_domain": "https://www.zohoapis.eu"}),
        SETTINGS,
    )
    assert token.value == "1000.a.b"
    assert token.api_domain == "https://www.zohoapis.eu"
    assert before + 3300 - 1 <= token.expires_at <= time.time() + 3300
    short = parse_token_reply(reply({"access_token": "x", "expires_in": 8}), SETTINGS)
    assert 5 <= short.expires_at - before <= 6.1  # a quarter of a short lifetime, not 5 minutes


def test_api_domain_with_a_bad_port_is_dropped_not_a_crash():
    token = parse_token_reply(
        reply({"access_token": "t", "expires_in": 3600, "api_domain": "https://www.zohoapis.com:x"}), SETTINGS
    )
    assert token.api_domain is None


def test_untrusted_api_domain_is_dropped(caplog):
    token = parse_token_reply(
        reply({"access_token": "1000.a.b", "expires_in": 3600, "api_domain": "https://evil.example"}),
        SETTINGS,
    )
    assert token.api_domain is None
    assert "evil.example" in caplog.text
    assert "1000.a.b" not in caplog.text


@pytest.mark.parametrize(
    ("body", "status", "error", "text"),
    [
        ({"error": "invalid_client"}, 200, ZohoAuthError, "wrong client id or secret, or wrong data centre"),
        ({"error": "invalid_code"}, 200, ZohoAuthError, "refresh token invalid or revoked"),
        (
            {"error": "Access Denied", "error_description": "You have made too many requests continuously."},
            200,
            ZohoTokenThrottledError,
            "at most 10 access tokens per 10 minutes",
        ),
        ({"error": "Access Denied"}, 400, ZohoTokenThrottledError, "10 access tokens"),
        ({"error": "invalid_scope"}, 200, ZohoAuthError, "invalid_scope"),
        ({"token_type": "Bearer"}, 200, ZohoAuthError, "without access_token"),
        ("<html>not here</html>", 404, ZohoAuthError, "is accounts_url right"),
        ("", 503, ZohoServerError, "failed"),
        ("", 429, ZohoRateLimitError, "rate limiting"),
    ],
)
def test_token_endpoint_errors(body, status, error, text):
    with pytest.raises(error, match=text) as err:
        parse_token_reply(reply(body, status), SETTINGS)
    assert err.type is error
    assert "client-secret" not in str(err.value)


def test_access_token_json_round_trip_and_repr():
    token = AccessToken("1000.secret.value", 123.5, "https://www.zohoapis.com")
    assert AccessToken.from_json(token.to_json()) == token
    assert "1000.secret.value" not in repr(token)
    assert AccessToken.from_json("{broken") is None
    assert AccessToken.from_json(None) is None
    assert set(json.loads(token.to_json())) == {"access_token", "expires_at", "api_domain"}


def test_token_usable():
    token = AccessToken("a", time.time() + 60)
    assert token.usable()
    assert not token.usable(rejected="a")
    assert not AccessToken("a", time.time() - 1).usable()


def test_file_cache_is_private_and_holds_only_the_token(tmp_path):
    cache = FileTokenCache("k1", str(tmp_path / "cache"))
    assert cache.load() is None
    cache.store(AccessToken("1000.access", time.time() + 60, None))
    path = tmp_path / "cache" / "k1.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "cache").st_mode) == 0o700
    assert set(json.loads(path.read_text())) == {"access_token", "expires_at", "api_domain"}
    assert cache.load().value == "1000.access"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["k1.json"]


def test_file_cache_refuses_a_foreign_default_dir(tmp_path, monkeypatch):
    import airflow_crm_provider.zoho.auth.cache as cache_module

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o757)  # noqa: S103 - others may write: not private
    monkeypatch.setattr(cache_module, "default_cache_dir", lambda: shared)
    with pytest.raises(TokenCacheError, match="not a private directory") as err:
        FileTokenCache("k").store(AccessToken("t", time.time() + 60))
    assert not isinstance(err.value, ZohoTransientError)  # a setup problem: retrying cannot help


def test_file_cache_directory_that_cannot_be_created_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cache = FileTokenCache("k", str(blocker / "cache"))
    for action in (lambda: cache.store(AccessToken("t", time.time() + 60)), lambda: cache.lock().__enter__()):
        with pytest.raises(TokenCacheError, match=f"token cache directory {blocker / 'cache'} is not usable"):
            action()


def _hold_lock(directory: str, started, release) -> None:
    cache = FileTokenCache("k", directory)
    with cache.lock():
        started.set()
        release.wait(10)


def test_file_lock_excludes_other_processes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    started, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), started, release))
    holder.start()
    try:
        assert started.wait(30)
        waiting = FileTokenCache("k", str(tmp_path), lock_timeout=0.2)
        # another minter holding the lock may pass: transient (task retries apply), not a request error
        with pytest.raises(TokenCacheUnavailable, match="waiting for another process") as err, waiting.lock():
            pass
        assert isinstance(err.value, ZohoTransientError)
    finally:
        release.set()
        holder.join(30)
    with FileTokenCache("k", str(tmp_path), lock_timeout=5).lock():
        pass


def test_memory_cache_is_process_wide():
    a, b = MemoryTokenCache("shared-key"), MemoryTokenCache("shared-key")
    a.store(AccessToken("m", time.time() + 60))
    assert b.load().value == "m"
    assert MemoryTokenCache("other-key").load() is None
    with a.lock():
        assert not b._lock.acquire(blocking=False)


@pytest.mark.redis
def test_redis_cache(redis_url):
    import uuid

    key = uuid.uuid4().hex
    cache = RedisTokenCache(redis_url, key, lock_timeout=0.3)
    assert cache.load() is None
    cache.store(AccessToken("r", time.time() + 60, "https://www.zohoapis.com"))
    assert RedisTokenCache(redis_url, key).load() == AccessToken(
        "r", cache.load().expires_at, "https://www.zohoapis.com"
    )
    with cache.lock():
        other = RedisTokenCache(redis_url, key, lock_timeout=0.2)
        with pytest.raises(TokenCacheUnavailable, match="waiting for the token lock") as err, other.lock():
            pass
        assert isinstance(err.value, ZohoTransientError)
    with cache.lock():
        pass


def test_redis_cache_unreachable_is_transient():
    pytest.importorskip("redis")

    cache = RedisTokenCache("redis://:sekrit-pass@127.0.0.1:1/0", "k")
    with pytest.raises(TokenCacheUnavailable) as err:
        cache.load()
    assert isinstance(err.value, ZohoTransientError)
    assert "127.0.0.1:1" in str(err.value)
    assert "sekrit-pass" not in str(err.value)
