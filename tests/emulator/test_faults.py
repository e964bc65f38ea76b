"""Fault injection: latency, 429s, 500s, dropped connections, broken replies (limits: test_org_limits.py)."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
import requests

from airflow_crm_provider.testing.emulator import SEED_IDS

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm, Mint


USERS = "/crm/v8/users"
BODY = {"data": [{"City": "Porto"}], "ids": [SEED_IDS[0]]}


def test_latency_delays_answers(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(latency=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        crm.call("GET", USERS, timeout=0.2)


def test_jitter_adds_a_seeded_random_delay(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(latency_jitter=2.0, seed=7)
    assert random.Random(7).uniform(0, 2.0) > 0.5  # the delay the emulator draws first
    with pytest.raises(requests.exceptions.ReadTimeout):
        crm.call("GET", USERS, timeout=0.2)


def test_a_429_burst_then_normal_answers(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(burst_429=2, retry_after=1.5)
    assert zoho_emulator.client.config()["burst_429"] == 2
    for _ in range(2):
        response = crm.mass_update(BODY)
        assert response.status_code == 429
        assert response.json()["code"] == "TOO_MANY_REQUESTS"
        assert response.headers["Retry-After"] == "1.5"
    assert crm.mass_update(BODY).json()["data"][0]["code"] == "SUCCESS"
    counters = zoho_emulator.client.counters()
    assert (counters["answered_429"], counters["records_changed"], counters["mass_update_posts"]) == (2, 1, 3)


def test_a_429_rate_without_retry_after_as_zoho(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(rate_429=1.0)
    response = crm.call("GET", USERS)
    assert response.status_code == 429
    assert "Retry-After" not in response.headers


def test_5xx_burst_and_rate(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(burst_5xx=1)
    response = crm.mass_update(BODY)
    assert response.status_code == 500
    assert response.json() == {
        "code": "INTERNAL_ERROR",
        "details": {},
        "message": "Internal server error occurred.",
        "status": "error",
    }
    assert crm.call("GET", USERS).status_code == 200
    zoho_emulator.client.configure(rate_5xx=1.0)
    assert crm.call("GET", USERS).status_code == 500
    assert zoho_emulator.client.records("Leads")[SEED_IDS[0]]["City"] != "Porto"


def test_a_dropped_connection_is_a_connection_error(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(drop_connections=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        crm.mass_update(BODY)
    assert crm.mass_update(BODY).json()["data"][0]["code"] == "SUCCESS"
    assert zoho_emulator.client.counters()["dropped_connections"] == 1
    assert [e["status"] for e in zoho_emulator.client.log() if e["path"].startswith("/crm/")] == [None, 200]


def test_faults_spare_the_token_endpoint_and_the_admin_api(
    zoho_emulator: RunningEmulator, mint: Mint
) -> None:
    zoho_emulator.client.configure(burst_429=1, burst_5xx=1, drop_connections=1)
    assert "access_token" in mint().json()
    assert zoho_emulator.client.config()["drop_connections"] == 1


def test_a_request_waiting_out_latency_across_a_reset_changes_nothing(
    crm: Crm, zoho_emulator: RunningEmulator
) -> None:
    client = zoho_emulator.client
    client.configure(latency=0.5)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(crm.mass_update, BODY)
        for _ in range(500):  # wait until the emulator holds the update (after the token request)
            if client.log()[1:]:
                break
            time.sleep(0.01)
        client.reset()
        response = pending.result()
    assert (response.status_code, response.json()["code"]) == (500, "INTERNAL_ERROR")
    assert client.records()[SEED_IDS[0]]["City"] != "Porto"
    assert client.counters()["records_changed"] == 0


def test_lost_replies_are_counted_out_once_among_requests_in_flight(
    crm: Crm, zoho_emulator: RunningEmulator
) -> None:
    """N lost replies are N, however many requests are in flight (they once ran past zero)."""
    client = zoho_emulator.client
    client.configure(concurrency_limit=25)
    headers = {"Authorization": f"Zoho-oauthtoken {crm.token}"}

    def call(_: int) -> str:
        try:
            return str(requests.get(crm.url + USERS, headers=headers, timeout=10).status_code)
        except requests.exceptions.ConnectionError:
            return "lost"

    for _ in range(5):
        client.configure(lose_replies=3)
        with ThreadPoolExecutor(max_workers=24) as pool:
            answers = list(pool.map(call, range(24)))
        assert answers.count("lost") == 3, answers
        assert client.config()["lose_replies"] == 0
    assert client.counters()["lost_replies"] == 15
    assert crm.call("GET", USERS).status_code == 200  # and nothing after them is lost


def test_a_garbled_reply_is_a_200_that_is_not_json_after_the_update_is_applied(
    crm: Crm, zoho_emulator: RunningEmulator
) -> None:
    client = zoho_emulator.client
    client.configure(garble_replies=1)
    response = crm.mass_update(BODY)
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    assert client.records()[SEED_IDS[0]]["City"] == "Porto"  # the work was done
    assert client.counters()["garbled_replies"] == 1
    assert client.config()["garble_replies"] == 0
    assert crm.mass_update(BODY).json()["data"][0]["code"] == "SUCCESS"  # one reply only


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        ("short_replies", requests.exceptions.ChunkedEncodingError),  # urllib3's IncompleteRead
        ("stall_replies", requests.exceptions.ConnectionError),  # urllib3's ReadTimeoutError
    ],
)
def test_broken_replies_after_the_update_was_applied(
    crm: Crm, zoho_emulator: RunningEmulator, setting: str, error: type[Exception]
) -> None:
    client = zoho_emulator.client
    client.configure(**{setting: 1})
    start = time.monotonic()
    with pytest.raises(error):
        crm.mass_update(BODY, timeout=1.0)
    assert time.monotonic() - start < 5  # a stalled reply is cut by the client's read timeout
    assert client.record("Leads", SEED_IDS[0])["City"] == "Porto"  # Zoho acted before the reply broke
    assert client.counters()["broken_replies"] == 1
    assert client.config()[setting] == 0
    assert crm.mass_update(BODY).json()["data"][0]["code"] == "SUCCESS"  # only the next N
