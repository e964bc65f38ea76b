"""The org's API credits: budget over a rolling window, the credit 429, the header past half, admin."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from airflow_crm_provider.testing.client import EmulatorAdminError
from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID, SEED_IDS
from airflow_crm_provider.testing.emulator.faults import CREDITS_MESSAGE

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm

USERS = "/crm/v8/users"
HEADER = "X-API-CREDITS-REMAINING"
BODY = {"data": [{"City": "Porto"}], "ids": [SEED_IDS[0]]}


def test_no_budget_no_header(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    for _ in range(3):
        assert HEADER not in crm.call("GET", USERS).headers
    assert zoho_emulator.client.credits() == {"budget": None, "window": 86400.0, "used": 0, "remaining": None}


def test_the_header_appears_once_half_is_used(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(credit_budget=10)
    headers = [crm.call("GET", USERS).headers.get(HEADER) for _ in range(7)]
    # credits left after each request: 9, 8, 7, 6 (less than half used: no header), then 5, 4, 3
    assert headers == [None, None, None, None, "5", "4", "3"]
    assert zoho_emulator.client.credits()["remaining"] == 3


def test_every_kind_of_crm_request_costs_one(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(credit_budget=100)
    crm.mass_update(BODY)
    job = crm.mass_update({"data": [{"City": "Oslo"}], "cvid": LEADS_VIEW_ID}).json()
    crm.status(job["data"][0]["details"]["job_id"])
    crm.call("GET", "/crm/v8/Leads", params={"ids": SEED_IDS[0], "fields": "City"})
    crm.call("GET", "/crm/v8/org")
    assert zoho_emulator.client.credits()["used"] == 5


def test_error_replies_carry_the_header_too(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.configure(credit_budget=4)
    client.set_credits_used(2)
    client.refuse("NO_PERMISSION", operation="any")
    refused = crm.call("GET", USERS)
    assert (refused.status_code, refused.headers[HEADER]) == (403, "1")
    unauthenticated = crm.call("GET", USERS, token="not-a-token")
    assert (unauthenticated.status_code, unauthenticated.headers[HEADER]) == (401, "1")


def test_a_spent_budget_answers_the_credit_429_without_doing_the_work(
    crm: Crm, zoho_emulator: RunningEmulator
) -> None:
    client = zoho_emulator.client
    client.configure(credit_budget=3)
    before = client.record("Leads", SEED_IDS[0])
    client.set_credits_used(3)
    refused = crm.mass_update(BODY)
    assert refused.status_code == 429
    assert refused.json() == {
        "code": "TOO_MANY_REQUESTS",
        "details": {},
        "message": CREDITS_MESSAGE,
        "status": "error",
    }
    assert refused.headers[HEADER] == "0"
    assert "Retry-After" not in refused.headers
    assert client.record("Leads", SEED_IDS[0]) == before
    counters = client.counters()
    assert counters["records_changed"] == 0
    assert (counters["answered_429"], counters["answered_credit_429"]) == (1, 1)
    assert client.credits()["used"] == 3  # the refused call cost nothing


def test_the_last_credit_is_served_then_refused(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(credit_budget=2)
    answers = [crm.mass_update(BODY) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers.get(HEADER) for a in answers] == ["1", "0", "0"]
    assert zoho_emulator.client.counters()["records_changed"] == 2


def test_credits_come_back_over_the_rolling_window(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(credit_budget=2, credit_window=1.0)
    assert crm.call("GET", USERS).status_code == 200
    time.sleep(0.5)
    assert crm.call("GET", USERS).status_code == 200
    assert crm.call("GET", USERS).status_code == 429
    time.sleep(0.6)  # the first credit is out of the window, the second not yet
    answers = [crm.call("GET", USERS) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 429]
    time.sleep(1.1)
    assert zoho_emulator.client.credits()["used"] == 0


def test_the_budget_is_the_orgs_shared_by_every_app(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.configure(credit_budget=3)
    client.issue_refresh_token(client_id="1000.OTHERAPP", client_secret="other-secret")
    other_app = client.issue_token(client_id="1000.OTHERAPP")
    assert crm.call("GET", USERS).status_code == 200
    assert crm.call("GET", USERS, token=other_app).headers[HEADER] == "1"
    assert crm.call("GET", USERS, token=client.issue_token()).status_code == 200
    assert crm.call("GET", USERS, token=other_app).status_code == 429
    assert client.credits()["used"] == 3


def test_admin_sets_spends_and_resets_credits(zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.configure(credit_budget=100, credit_window=60.0)
    assert client.set_credits_used(40) == {"budget": 100, "window": 60.0, "used": 40, "remaining": 60}
    assert client.spend_credits(15)["used"] == 55
    assert client.set_credits_used(10)["used"] == 10  # replaces, does not add
    assert client.spend_credits(500)["remaining"] == 0
    assert client.reset_credits()["used"] == 0
    assert client.config()["credit_budget"] == 100  # the budget stays
    for payload in ({"used": -1}, {"spend": "3"}, {"reset": False}, {"used": 1, "spend": 1}, {"nope": 1}, {}):
        with pytest.raises(EmulatorAdminError, match="HTTP 400"):
            client._call("POST", "/credits", payload)


def test_reset_clears_credits_and_sets_a_budget_at_start(zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.configure(credit_budget=5)
    client.set_credits_used(5)
    config = client.reset(credit_budget=7, credit_window=30.0)
    assert (config["credit_budget"], config["credit_window"]) == (7, 30.0)
    assert client.credits()["used"] == 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"credit_budget": -1}, "credit_budget must be >= 0"),
        ({"credit_budget": 2.5}, "credit_budget must be an integer"),
        ({"credit_budget": True}, "credit_budget must be an integer"),
        ({"credit_window": 0}, "credit_window must be a number of seconds > 0"),
        ({"credit_window": "1d"}, "credit_window must be a number of seconds > 0"),
    ],
)
def test_bad_credit_settings_are_refused(
    zoho_emulator: RunningEmulator, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(EmulatorAdminError, match=message):
        zoho_emulator.client.configure(**settings)
    with pytest.raises(EmulatorAdminError, match=message):
        zoho_emulator.client.reset(**settings)
    config = zoho_emulator.client.config()
    assert (config["credit_budget"], config["credit_window"]) == (None, 86400.0)
