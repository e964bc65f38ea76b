"""Zoho keeps 15 live access tokens per refresh token: the 16th evicts the oldest (INVALID_OAUTHTOKEN)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm, Mint

USERS = "/crm/v8/users"
EVICTED = {"code": "INVALID_OAUTHTOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}


def test_the_sixteenth_token_evicts_the_oldest(zoho_emulator: RunningEmulator, mint: Mint, crm: Crm) -> None:
    zoho_emulator.client.configure(mint_limit=100)
    tokens = [crm.token] + [mint().json()["access_token"] for _ in range(15)]  # 16 minted in all

    first = crm.call("GET", USERS, token=tokens[0])
    assert (first.status_code, first.json()) == (401, EVICTED)
    assert first.headers["Server"] == "ZGS"
    assert [crm.call("GET", USERS, token=t).status_code for t in tokens[1:]] == [200] * 15
    assert zoho_emulator.client.counters()["tokens_evicted"] == 1


def test_expired_tokens_do_not_count_as_active(zoho_emulator: RunningEmulator, mint: Mint, crm: Crm) -> None:
    client = zoho_emulator.client
    client.configure(mint_limit=100, active_tokens=2)
    client.expire_tokens()  # crm.token is dead now, so it takes no slot
    second, third = (mint().json()["access_token"] for _ in range(2))
    assert [crm.call("GET", USERS, token=t).status_code for t in (second, third)] == [200, 200]
    expired = crm.call("GET", USERS)
    assert expired.json()["code"] == "INVALID_TOKEN"  # expired, not evicted
    fourth = mint().json()["access_token"]
    assert crm.call("GET", USERS, token=second).json() == EVICTED
    assert crm.call("GET", USERS, token=fourth).status_code == 200


def test_each_refresh_token_has_its_own_active_set(
    zoho_emulator: RunningEmulator, mint: Mint, crm: Crm
) -> None:
    client = zoho_emulator.client
    client.configure(mint_limit=100, active_tokens=1)
    other_refresh = client.issue_refresh_token()
    other = mint(refresh_token=other_refresh).json()["access_token"]
    assert crm.call("GET", USERS).status_code == 200  # the first refresh token's one token is still live
    assert crm.call("GET", USERS, token=other).status_code == 200


def test_admin_issued_tokens_are_never_evicted(zoho_emulator: RunningEmulator, crm: Crm) -> None:
    client = zoho_emulator.client
    client.configure(active_tokens=1)
    issued = [client.issue_token() for _ in range(3)]
    assert [crm.call("GET", USERS, token=t).status_code for t in issued] == [200, 200, 200]
