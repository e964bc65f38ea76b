"""The token endpoint (Zoho's quirks under HTTP 200, the mint throttle) and CRM authentication."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import requests

from airflow_crm_provider.testing.emulator import CLIENT_ID, CLIENT_SECRET, EMULATOR_GRANT_CODE

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm, Mint


TOKEN = re.compile(r"^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$")
THROTTLED = {
    "error_description": "You have made too many requests continuously. Please try again after some time.",
    "error": "Access Denied",
    "status": "failure",
}
INVALID_TOKEN = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}
AUTH_FAILED = {
    "code": "AUTHENTICATION_FAILURE",
    "details": {},
    "message": "Authentication failed",
    "status": "error",
}
USERS = "/crm/v8/users"


def test_refresh_grant_answers_like_zoho(zoho_emulator: RunningEmulator, mint: Mint) -> None:
    response = mint()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    body = response.json()
    assert set(body) == {"access_token", "scope", "api_domain", "token_type", "expires_in"}
    assert TOKEN.match(body["access_token"])
    assert body["api_domain"] == zoho_emulator.url
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert zoho_emulator.client.counters()["tokens_minted"] == 1


def test_query_parameters_work_too(zoho_emulator: RunningEmulator) -> None:
    params = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    params["refresh_token"] = zoho_emulator.connection_dict()["extra"]["refresh_token"]
    response = requests.post(f"{zoho_emulator.url}/oauth/v2/token", params=params, timeout=10)
    assert TOKEN.match(response.json()["access_token"])


def test_bad_client_and_bad_refresh_token_fail_under_http_200(mint: Mint) -> None:
    for overrides, error in [
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"client_id": "1000.OTHER"}, "invalid_client"),
        ({"refresh_token": "1000.revoked.token"}, "invalid_code"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ]:
        response = mint(**overrides)
        assert (response.status_code, response.json()) == (200, {"error": error}), overrides


def test_the_eleventh_mint_in_the_window_is_denied(zoho_emulator: RunningEmulator, mint: Mint) -> None:
    for _ in range(10):
        assert "access_token" in mint().json()
    response = mint()
    assert (response.status_code, response.json()) == (200, THROTTLED)
    counters = zoho_emulator.client.counters()
    assert (counters["tokens_minted"], counters["mints_throttled"]) == (10, 1)


def test_minting_resumes_once_the_window_passes(zoho_emulator: RunningEmulator, mint: Mint) -> None:
    zoho_emulator.client.configure(mint_limit=2, mint_window=0.3)
    assert "access_token" in mint().json()
    assert "access_token" in mint().json()
    assert mint().json() == THROTTLED
    time.sleep(0.35)
    assert "access_token" in mint().json()


def test_grant_code_exchange_works_once(zoho_emulator: RunningEmulator, mint: Mint) -> None:
    answer = mint(grant_type="authorization_code", code=EMULATOR_GRANT_CODE).json()
    assert TOKEN.match(answer["access_token"])
    assert TOKEN.match(answer["refresh_token"])
    assert mint(grant_type="authorization_code", code=EMULATOR_GRANT_CODE).json() == {"error": "invalid_code"}
    assert "access_token" in mint(refresh_token=answer["refresh_token"]).json()
    zoho_emulator.client.reset()
    assert "refresh_token" in mint(grant_type="authorization_code", code=EMULATOR_GRANT_CODE).json()


def test_both_header_schemes_are_accepted(crm: Crm) -> None:
    for scheme in ("Zoho-oauthtoken", "Bearer", "bearer"):
        assert crm.call("GET", USERS, params={"type": "CurrentUser"}, scheme=scheme).status_code == 200


def test_missing_or_malformed_header_is_authentication_failure(crm: Crm) -> None:
    for headers in [
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Zoho-oauthtoken"},
        {"Authorization": crm.token},
    ]:
        response = requests.get(crm.url + USERS, headers=headers, timeout=10)
        assert (response.status_code, response.json()) == (401, AUTH_FAILED), headers
        assert "X-ACCESSTOKEN-RESET" not in response.headers


def test_unknown_token_is_invalid_token(crm: Crm) -> None:
    response = crm.call(
        "GET", USERS, token="1000.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef"
    )
    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)


def test_a_token_expires_after_its_lifetime(zoho_emulator: RunningEmulator, crm: Crm, mint: Mint) -> None:
    zoho_emulator.client.configure(token_ttl=0.3)
    answer = mint().json()
    assert answer["expires_in"] == 1
    assert crm.call("GET", USERS, token=answer["access_token"]).status_code == 200
    time.sleep(0.35)
    response = crm.call("GET", USERS, token=answer["access_token"])
    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)


def test_forced_expiry_invalidates_every_token(zoho_emulator: RunningEmulator, crm: Crm) -> None:
    issued = zoho_emulator.client.issue_token()
    assert zoho_emulator.client.expire_tokens() == 2
    for token in (crm.token, issued):
        assert crm.call("GET", USERS, token=token).json() == INVALID_TOKEN
    assert zoho_emulator.client.counters()["tokens_minted"] == 1  # issue_token is not a mint
