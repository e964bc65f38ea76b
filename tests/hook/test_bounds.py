"""Every request is bounded in time and reply size, against servers the emulator cannot imitate."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.zoho.api import check_reply
from airflow_crm_provider.zoho.errors import ZohoConnectionError, ZohoRequestError
from airflow_crm_provider.zoho.http import MAX_REPLY_BYTES, Reply

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


class RawServer:
    """A loopback HTTP server that answers every request with ``reply(conn)``, then stops."""

    def __init__(self, reply):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                with contextlib.suppress(OSError):  # the client hung up: what these servers are for
                    self.reply(conn, self.stop)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def raw_hook(monkeypatch):
    servers = []

    def make(reply, **extra):
        server = RawServer(reply)
        servers.append(server)
        conn = {
            "conn_type": "zoho_crm",
            "extra": {
                "access_token": "1000.static.token",
                "api_url": f"http://127.0.0.1:{server.port}",
                "connect_timeout": "1",
                "read_timeout": "1",
                **extra,
            },
        }
        monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_RAW", json.dumps(conn))
        return ZohoCRMHook("zoho_crm_raw", max_attempts=2, backoff_base=0.01, max_retry_wait=3.0)

    yield make
    for server in servers:
        server.close()


def test_a_server_that_trickles_its_reply_is_cut_off(raw_hook):
    """With read_timeout=1 alone each byte came in time, and one call was held for minutes."""

    def trickle(conn, stop):
        conn.sendall(HEAD % 10_000)
        while not stop.wait(0.3):  # one byte every 0.3 s: no socket read ever times out
            conn.sendall(b" ")

    hook = raw_hook(trickle)
    started = time.monotonic()
    with pytest.raises(ZohoConnectionError, match="longer than 2s") as err:
        hook.get_records("Leads", ["1"], ["City"])
    assert err.value.maybe_delivered
    assert time.monotonic() - started < 15  # two attempts of at most ~2 s each, not 10,000 x 0.3 s


def test_a_reply_larger_than_any_zoho_sends_is_refused(raw_hook):
    def huge(conn, stop):
        conn.sendall(HEAD % (MAX_REPLY_BYTES + 10))
        block = b" " * 65536
        for _ in range(MAX_REPLY_BYTES // len(block) + 2):
            conn.sendall(block)

    with pytest.raises(ZohoConnectionError, match=f"exceeded {MAX_REPLY_BYTES} bytes"):
        raw_hook(huge).get_records("Leads", ["1"], ["City"])


def test_a_deeply_nested_reply_fails_closed():
    """A deeply nested reply must not raise RecursionError out of json.loads as an unexpected error."""
    reply = Reply(200, {}, "[" * 100_000)
    assert reply.json() is None
    with pytest.raises(ZohoRequestError, match="not JSON"):
        check_reply(reply)
