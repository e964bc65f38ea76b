"""
A short Zoho outage costs the run about its length, not the run: the hook's retry budget rides it out.

Zoho is reached through a TCP gate the test closes (connections refused, those open cut) and opens
again. The retry settings are scaled down (waits of tens of milliseconds, a budget of seconds) with
the hook's default ``max_attempts``, as the defaults scale a minute's outage.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from tests.reliability.helpers import run_operator

DATA = {"Lead_Status": "Contacted"}
#: Retry waits scaled down a hundredfold or so; max_attempts stays the hook's default.
SCALED = {"backoff_base": 0.05, "max_retry_wait": 8.0, "max_token_wait": 0.0}
OUTAGE = 2.5


class Gate:
    """A TCP proxy to the emulator on a port of its own, which can refuse connections for a while."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._live: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)  # a blocked accept() would keep the port open after close()
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def down(self) -> None:
        """Refuse new connections and cut the open ones."""
        self._listener = None
        if self._acceptor is not None:
            self._acceptor.join(5)  # it closes the listener on its way out
        with self._lock:
            live, self._live = self._live, []
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._listener is listener:
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                self._connect(client)

    def _connect(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        with self._lock:
            self._live += [client, server]
        for a, b in ((client, server), (server, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def gate(zoho_emulator):
    gate = Gate(zoho_emulator.url)
    yield gate
    gate.down()


def test_a_short_outage_costs_about_its_length(zoho_emulator, gate, monkeypatch):
    client = zoho_emulator.client
    conn = zoho_emulator.connection_json(accounts_url=gate.url, api_url=gate.url)
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", conn)
    ids = client.seed("Leads", count=8, fields={"Lead_Status": "Not Contacted"})
    client.configure(latency=0.05)
    outage: list[float] = []

    def break_zoho() -> None:
        while client.counters()["mass_update_posts"] < 1:
            time.sleep(0.01)
        gate.down()
        outage.append(time.monotonic())
        time.sleep(OUTAGE)
        gate.up()
        outage.append(time.monotonic())

    breaker = threading.Thread(target=break_zoho, daemon=True)
    breaker.start()
    start = time.monotonic()
    end = run_operator(ids=ids, data=DATA, batch_size=2, max_concurrency=1, hook_params=SCALED)
    took = time.monotonic() - start
    breaker.join(10)

    assert len(outage) == 2  # Zoho did go away mid-run
    assert end.state == "success", end.error
    assert [r["code"] for r in end.records] == ["SUCCESS"] * len(ids)
    store = client.records("Leads")
    assert all(store[i]["Lead_Status"] == "Contacted" for i in ids)
    assert took < OUTAGE + 4, took  # the outage, the backoff that noticed its end, the calls


def test_reading_back_stops_at_the_first_read_zoho_does_not_answer(zoho_crm_conn, zoho_emulator, caplog):
    client = zoho_emulator.client
    ids = client.seed("Leads", count=8, fields={"Lead_Status": "Not Contacted"})
    client.configure(lose_replies=1000)  # every call is carried out and its reply lost: reads too
    caplog.set_level(logging.INFO)
    hook = {"max_attempts": 2, "backoff_base": 0.01, "max_retry_wait": 5.0, "max_token_wait": 0.0}
    end = run_operator(ids=ids, data=DATA, batch_size=2, max_concurrency=3, hook_params=hook)

    assert end.state == "up_for_retry"
    sent = [r for r in end.records if r["code"] != "NOT_SENT"]
    assert len(sent) >= 4  # at least two chunks were in flight when the run stopped
    assert {r["code"] for r in sent} == {"UNCONFIRMED"}  # never "not applied"
    assert client.counters()["record_gets"] == 2  # one read-back call, with its two attempts: then none
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("Reading back") and "of" in line for line in lines), lines
    assert any("stay UNCONFIRMED" in line for line in lines), lines
