"""API credits: the hook's meter against the emulator's budget, the credit 429 never retried."""

from __future__ import annotations

import contextlib
import json
import socket
import threading

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID, SEED_IDS
from airflow_crm_provider.zoho.errors import (
    RETRYABLE_ERRORS,
    ZohoCreditsExhaustedError,
    ZohoTransientError,
    is_credit_exhaustion,
)

DATA = {"City": "Oslo"}
NO_CALLS = {
    "read": 0,
    "mass_update": 0,
    "update_records": 0,
    "upsert": 0,
    "status": 0,
    "metadata": 0,
    "other": 0,
}


@pytest.fixture
def hook(make_hook):
    hook = make_hook()
    hook.sleeps = []
    hook._sleep = hook.sleeps.append  # record the waits instead of sleeping
    return hook


def crm_requests(emulator) -> list[dict]:
    return [e for e in emulator.log() if e["path"].startswith("/crm/")]


def test_no_header_below_half_leaves_the_credits_unknown(hook, emulator):
    emulator.configure(credit_budget=100)
    hook.mass_update("Leads", DATA, [SEED_IDS[0]])
    assert hook.credits.remaining is None
    assert hook.credits.calls == {**NO_CALLS, "mass_update": 1}
    assert not hook.credits.exhausted


def test_the_meter_matches_the_emulators_credits(hook, emulator):
    emulator.configure(credit_budget=20, job_duration=0)
    emulator.set_credits_used(8)
    hook.get_records("Leads", [SEED_IDS[0]], ["City"])  # used 9: below half, no header yet
    assert hook.credits.remaining is None
    hook.mass_update("Leads", DATA, [SEED_IDS[0]])  # 10 of 20: the header from now on
    assert hook.credits.remaining == emulator.credits()["remaining"] == 10
    job_id = hook.mass_update_by_view("Leads", DATA, LEADS_VIEW_ID)
    hook.get_mass_update_status("Leads", job_id)
    hook.get_org()
    assert hook.credits.remaining == emulator.credits()["remaining"] == 7
    hook.update_records("Leads", [{"id": SEED_IDS[1], "City": "Oslo"}])
    hook.upsert("Leads", [{"Last_Name": "Meter", "Email": "meter@example.com"}], ["Email"])
    assert hook.credits.remaining == emulator.credits()["remaining"] == 5
    assert hook.credits.calls == {
        "read": 1,
        "mass_update": 2,
        "update_records": 1,
        "upsert": 1,
        "status": 1,
        "metadata": 0,
        "other": 1,
    }
    assert sum(hook.credits.calls.values()) == len(crm_requests(emulator))


async def test_the_async_status_path_feeds_the_meter(hook, emulator):
    emulator.configure(credit_budget=4, job_duration=0)
    job_id = hook.mass_update_by_view("Leads", DATA, LEADS_VIEW_ID)  # 1 of 4 used
    emulator.spend_credits(1)
    await hook.aget_mass_update_status("Leads", job_id)  # 3 of 4
    assert hook.credits.remaining == 1
    assert hook.credits.calls == {**NO_CALLS, "mass_update": 1, "status": 1}
    emulator.spend_credits(1)
    with pytest.raises(ZohoCreditsExhaustedError):
        await hook.aget_mass_update_status("Leads", job_id)
    assert hook.credits.exhausted
    assert [e["method"] for e in crm_requests(emulator)] == ["POST", "GET", "GET"]


def test_the_credit_429_fails_after_exactly_one_request(hook, emulator):
    emulator.configure(credit_budget=5)
    emulator.set_credits_used(5)
    with pytest.raises(ZohoCreditsExhaustedError, match="rolling 24 hours") as err:
        hook.mass_update("Leads", DATA, [SEED_IDS[0]])
    assert (err.value.code, err.value.http_status) == ("TOO_MANY_REQUESTS", 429)
    assert not isinstance(err.value, ZohoTransientError)
    assert not isinstance(err.value, RETRYABLE_ERRORS)
    assert len(crm_requests(emulator)) == 1
    assert hook.sleeps == []
    assert (hook.credits.exhausted, hook.credits.remaining) == (True, 0)
    assert hook.credits.calls == {**NO_CALLS, "mass_update": 1}


def test_a_concurrency_429_is_still_retried(hook, emulator):
    emulator.configure(credit_budget=10, burst_429=1)
    emulator.set_credits_used(6)
    emulator.refuse("TOO_MANY_REQUESTS", times=1)  # a 429 past authentication, with the header
    assert hook.mass_update("Leads", DATA, [SEED_IDS[0]])[0]["code"] == "SUCCESS"
    assert len(crm_requests(emulator)) == 3
    assert len(hook.sleeps) == 2
    assert hook.credits.remaining == emulator.credits()["remaining"] == 2
    assert not hook.credits.exhausted


@pytest.mark.parametrize(
    ("message", "remaining", "spent"),
    [
        ("API request limit exceeded for the past 24 hours", None, True),
        ("Many requests fired than the allowed limit for the past 24 hours.", None, True),
        ("You have exceeded your daily API limit", None, True),
        ("API credits exhausted", None, True),
        ("Concurrency limit of the user for the app exceeded", None, False),
        ("Concurrency limit of the user for the app exceeded", 0, True),
        ("Concurrency limit of the user for the app exceeded", 3, False),
        ("", None, False),
        (None, None, False),
    ],
)
def test_credit_429s_are_told_from_concurrency_429s(message, remaining, spent):
    assert is_credit_exhaustion(message, remaining) is spent


# -- replies the emulator does not send: garbled headers, Zoho's older 429 body ----------------------

OK_BODY = json.dumps(
    {"data": [{"code": "SUCCESS", "details": {"id": SEED_IDS[0]}, "message": "ok", "status": "success"}]}
)
CONCURRENCY = json.dumps(
    {"code": "TOO_MANY_REQUESTS", "details": {}, "message": "Concurrency limit exceeded", "status": "error"}
)
OLD_SHAPE = json.dumps(
    {
        "code": 429,
        "error": "TOO_MANY_REQUESTS",
        "error_info": "Many requests fired than the allowed limit for the past 24 hours.",
    }
)


class ScriptedServer:
    """A loopback HTTP server answering each request with the next ``(status, header value, body)``."""

    def __init__(self, replies: list[tuple[int, str | None, str]]) -> None:
        self.replies = list(replies)
        self.requests = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.replies and not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.recv(65536)
                status, credits, body = self.replies.pop(0)
                self.requests += 1
                header = f"X-API-CREDITS-REMAINING: {credits}\r\n" if credits is not None else ""
                head = (
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{header}"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                )
                conn.sendall(head.encode() + body.encode())

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def scripted_hook(monkeypatch):
    servers: list[ScriptedServer] = []

    def make(replies: list[tuple[int, str | None, str]]) -> tuple[ZohoCRMHook, ScriptedServer]:
        server = ScriptedServer(replies)
        servers.append(server)
        conn = {
            "conn_type": "zoho_crm",
            "extra": {"access_token": "1000.static.token", "api_url": f"http://127.0.0.1:{server.port}"},
        }
        monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_SCRIPTED", json.dumps(conn))
        hook = ZohoCRMHook("zoho_crm_scripted", max_attempts=3, backoff_base=0.01)
        hook._sleep = lambda seconds: None
        return hook, server

    yield make
    for server in servers:
        server.close()


def test_garbled_credit_headers_are_ignored(scripted_hook):
    garbage = ["abc", "-3", "1e3", "12.5", "\u0663", "9" * 20, ""]
    hook, server = scripted_hook([(200, "41", OK_BODY)] + [(200, value, OK_BODY) for value in garbage])
    for _ in range(len(garbage) + 1):
        assert hook.mass_update("Leads", DATA, [SEED_IDS[0]])[0]["code"] == "SUCCESS"
    assert hook.credits.remaining == 41  # the one well-formed value stands
    assert hook.credits.calls["mass_update"] == server.requests == len(garbage) + 1


def test_a_429_whose_header_reads_zero_is_credit_exhaustion(scripted_hook):
    hook, server = scripted_hook([(429, " 0 ", CONCURRENCY), (200, None, OK_BODY)])
    with pytest.raises(ZohoCreditsExhaustedError):
        hook.mass_update("Leads", DATA, [SEED_IDS[0]])
    assert server.requests == 1


def test_zohos_older_429_body_is_credit_exhaustion(scripted_hook):
    hook, server = scripted_hook([(429, None, OLD_SHAPE), (200, None, OK_BODY)])
    with pytest.raises(ZohoCreditsExhaustedError, match="past 24 hours"):
        hook.get_records("Leads", [SEED_IDS[0]], ["City"])
    assert server.requests == 1
    assert (hook.credits.exhausted, hook.credits.remaining) == (True, 0)


def test_a_concurrency_429_with_credits_left_is_retried(scripted_hook):
    hook, server = scripted_hook([(429, "7", CONCURRENCY), (200, "6", OK_BODY)])
    assert hook.mass_update("Leads", DATA, [SEED_IDS[0]])[0]["code"] == "SUCCESS"
    assert server.requests == 2
    assert hook.credits.remaining == 6
