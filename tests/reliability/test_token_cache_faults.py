"""
A token cache that cannot store (a full disk) or is down for a while (Redis stopped) never stops a
working token: the run goes on with the token it holds, warns once, and mints no more than it must.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import subprocess
import time

import pytest
import requests

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.testing.emulator import CLIENT_SECRET, REFRESH_TOKEN
from airflow_crm_provider.zoho.auth import source as source_module
from airflow_crm_provider.zoho.auth import token as token_module
from tests.reliability.helpers import run_operator

HOOK = {"max_attempts": 3, "backoff_base": 0.05, "max_retry_wait": 10.0, "max_token_wait": 0.0}
DATA = {"Lead_Status": "Contacted"}
WARNING = "Token cache failed"


@pytest.fixture(autouse=True)
def _forget_tokens_kept_in_memory():
    """Tokens kept in this process's memory outlive the test's emulator state: forget them after it."""
    yield
    source_module._KEPT.clear()


def _cache_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(WARNING)]


def _no_secret(lines: list[str]) -> None:
    for line in lines:
        for secret in (CLIENT_SECRET, REFRESH_TOKEN):
            assert secret not in line


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every file opened for writing through ``os.fdopen`` fails with ENOSPC, as on a full disk."""
    real = os.fdopen
    refused: list[int] = []

    def fdopen(fd: int, mode: str = "r", *args, **kwargs):
        handle = real(fd, mode, *args, **kwargs)
        if "w" in mode:
            refused.append(fd)
            handle.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return handle

    monkeypatch.setattr(os, "fdopen", fdopen)
    return refused


def test_full_disk_under_the_file_cache_does_not_stop_a_working_token(
    zoho_crm_conn, zoho_emulator, full_disk, caplog
):
    client = zoho_emulator.client
    ids = client.seed("Leads", count=4, fields={"Lead_Status": "Not Contacted"})
    caplog.set_level(logging.WARNING)

    first = run_operator(ids=ids[:2], data=DATA, hook_params=HOOK)
    second = run_operator(ids=ids[2:], data=DATA, hook_params=HOOK)  # another hook, same process

    assert full_disk  # the cache did try to write
    for end in (first, second):
        assert end.state == "success", end.error
        assert [r["code"] for r in end.records] == ["SUCCESS", "SUCCESS"]
    assert client.counters()["tokens_minted"] == 1  # kept in memory, not thrown away
    warnings = _cache_warnings(caplog)
    assert len(warnings) == 1  # the second hook takes the token this process keeps: nothing to store
    assert "is full" in warnings[0]
    _no_secret(warnings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of this test's own on a free port, to stop and start again."""

    def __init__(self, tmp: str) -> None:
        self.port = _free_port()
        self.tmp = tmp
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            self.tmp,
        ]
        self.process = subprocess.Popen([*args, "--appendonly", "no"], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: the Redis token cache outage is not tested")
    pytest.importorskip("redis")
    server = RedisServer(str(tmp_path))
    server.start()
    yield server
    server.stop()


def test_redis_down_mid_run_does_not_fail_a_run_holding_a_token(
    zoho_emulator, redis_server, monkeypatch, caplog
):
    client = zoho_emulator.client
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", zoho_emulator.connection_json(cache=redis_server.url))
    ids = client.seed("Leads", count=6, fields={"Lead_Status": "Not Contacted"})
    caplog.set_level(logging.WARNING)
    real_send = requests.Session.send
    posts: list[int] = []

    def send(self, request, **kwargs):
        if request.method == "POST" and request.url and "/actions/mass_update" in request.url:
            posts.append(1)
            if len(posts) == 2:
                redis_server.stop()  # the cache goes down mid-run...
                # ...and the held token passes our refresh point (3300 s), not its expiry (3600 s)
                clock = time.time() + 3400
                monkeypatch.setattr(
                    token_module, "time", type("Clock", (), {"time": staticmethod(lambda: clock)})
                )
            elif len(posts) == 4:
                redis_server.start()  # ...and comes back
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    end = run_operator(ids=ids, data=DATA, batch_size=1, max_concurrency=1, hook_params=HOOK)

    assert end.state == "success", end.error
    assert [r["code"] for r in end.records] == ["SUCCESS"] * len(ids)
    # the held token carried the run through the outage; once the cache was back it was refreshed
    assert client.counters()["tokens_minted"] == 2
    statuses = [e["status"] for e in client.log() if e["method"] == "POST"]
    assert len(posts) == len(ids), statuses
    warnings = _cache_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "redis at 127.0.0.1" in warnings[0]


def test_redis_down_when_a_token_is_refused_mints_without_the_cache(zoho_emulator, redis_server, monkeypatch):
    client = zoho_emulator.client
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", zoho_emulator.connection_json(cache=redis_server.url))
    ids = client.seed("Leads", count=2, fields={"Lead_Status": "Not Contacted"})
    hook = ZohoCRMHook(**HOOK)
    hook.get_records("Leads", ids, ["Lead_Status"])  # minted and stored in Redis
    redis_server.stop()
    client.expire_tokens()  # the held token is refused: a new one is needed while the cache is down
    assert set(hook.get_records("Leads", ids, ["Lead_Status"])) == set(ids)
    assert client.counters()["tokens_minted"] == 2
    redis_server.start()
    fresh = ZohoCRMHook(**HOOK)  # the cache is back: a new hook takes what it holds, or mints and stores
    assert set(fresh.get_records("Leads", ids, ["Lead_Status"])) == set(ids)
