"""The org's concurrency limits: per org and app over all tokens, by edition, heavy-call sub-limit."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
import requests

from airflow_crm_provider.testing.emulator import SEED_IDS

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm, Mint

USERS = "/crm/v8/users"
MASS_UPDATE = "/crm/v8/Leads/actions/mass_update"
BODY = {"data": [{"City": "Porto"}], "ids": [SEED_IDS[0]]}


def _fire(url: str, calls: list[tuple[str, str]]) -> list[requests.Response]:
    """Send ``(token, path)`` calls at the same instant (a barrier), each on its own connection."""
    barrier = threading.Barrier(len(calls))

    def one(call: tuple[str, str]) -> requests.Response:
        token, path = call
        headers = {"Authorization": f"Zoho-oauthtoken {token}"}
        barrier.wait()
        if path == MASS_UPDATE:
            return requests.post(url + path, json=BODY, headers=headers, timeout=30)
        return requests.get(url + path, headers=headers, timeout=30)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def test_two_tokens_of_one_app_share_the_limit(crm: Crm, zoho_emulator: RunningEmulator, mint: Mint) -> None:
    zoho_emulator.client.configure(latency=0.5, concurrency_limit=3)
    other = mint().json()["access_token"]
    answers = _fire(crm.url, [(crm.token, USERS)] * 3 + [(other, USERS)] * 3)
    statuses = [a.status_code for a in answers]
    assert sorted(statuses) == [200, 200, 200, 429, 429, 429]
    assert zoho_emulator.client.counters()["max_in_flight"] == 3
    # every slot was released, also by the requests answered 429
    assert [a.status_code for a in _fire(crm.url, [(other, USERS)] * 3)] == [200, 200, 200]


def test_the_429_is_zohos(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(latency=0.5, concurrency_limit=1)
    answers = _fire(crm.url, [(crm.token, USERS)] * 2)
    (refused,) = [a for a in answers if a.status_code == 429]
    assert refused.json() == {
        "code": "TOO_MANY_REQUESTS",
        "details": {},
        "message": "Concurrency limit of the user for the app exceeded",
        "status": "error",
    }
    assert "Retry-After" not in refused.headers  # Zoho documents none
    assert zoho_emulator.client.counters()["answered_429"] == 1


def test_another_app_has_its_own_pool(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.configure(latency=0.5, concurrency_limit=2)
    client.issue_refresh_token(client_id="1000.OTHERAPP", client_secret="other-secret")
    other_app = client.issue_token(client_id="1000.OTHERAPP")
    answers = _fire(crm.url, [(crm.token, USERS)] * 2 + [(other_app, USERS)] * 2)
    assert [a.status_code for a in answers] == [200, 200, 200, 200]


@pytest.mark.parametrize(("edition", "limit"), [("free", 5), ("standard", 10)])
def test_the_edition_sets_the_limit(
    crm: Crm, zoho_emulator: RunningEmulator, edition: str, limit: int
) -> None:
    zoho_emulator.client.configure(latency=0.5, edition=edition)
    answers = _fire(crm.url, [(crm.token, USERS)] * (limit + 2))
    assert [a.status_code for a in answers].count(200) == limit


def test_default_limits_are_enterprise_with_the_heavy_sub_limit() -> None:
    from airflow_crm_provider.testing.emulator.config import EmulatorConfig

    config = EmulatorConfig()
    assert (config.edition, config.limits()) == ("enterprise", (20, 10))
    assert EmulatorConfig(edition="ultimate").limits() == (25, 10)
    assert EmulatorConfig(edition="free").limits() == (5, 5)  # the sub-limit never exceeds the limit


def test_mass_updates_meet_the_heavy_sub_limit_reads_do_not(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(latency=0.5, concurrency_limit=6, heavy_concurrency_limit=2)
    answers = _fire(crm.url, [(crm.token, MASS_UPDATE)] * 4 + [(crm.token, USERS)] * 2)
    assert sorted(a.status_code for a in answers[:4]) == [200, 200, 429, 429]
    assert [a.status_code for a in answers[4:]] == [200, 200]
    counters = zoho_emulator.client.counters()
    assert (counters["max_heavy_in_flight"], counters["max_in_flight"]) == (2, 4)


@pytest.mark.parametrize(
    "setting",
    [
        {"edition": "platinum"},
        {"concurrency_limit": -1},
        {"heavy_concurrency_limit": "10"},
        {"active_tokens": None},
    ],
)
def test_bad_limit_settings_are_refused(zoho_emulator: RunningEmulator, setting: dict[str, object]) -> None:
    from airflow_crm_provider.testing.client import EmulatorAdminError

    with pytest.raises(EmulatorAdminError, match=next(iter(setting))):
        zoho_emulator.client.configure(**setting)
