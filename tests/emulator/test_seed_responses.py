"""The seed's eight recorded Zoho responses, reproduced over loopback: status, body and headers."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm, Mint

CASES = [
    "SUCCESS RESPONSE",
    "INVALID_DATA (no field)",
    "INVALID_DATA (field)",
    "MANDATORY_NOT_FOUND",
    "INVALID_REQUEST_METHOD",
    "AUTHENTICATION_FAILURE",
    "NOT_APPROVED",
    "RECORD_LOCKED",
]
#: Headers whose recorded values do not depend on time, body size or server build.
STABLE_HEADERS = {
    "server",
    "content-type",
    "connection",
    "referrer-policy",
    "x-content-type-options",
    "x-xss-protection",
    "pragma",
    "cache-control",
    "expires",
    "x-frame-options",
    "x-download-options",
    "content-disposition",
    "content-language",
}


def _masked(node: Any) -> Any:
    """Replace each ``Modified_Time`` (it is "now") by a marker, after checking it is ISO-8601."""
    if isinstance(node, dict):
        masked = {}
        for key, value in node.items():
            if key == "Modified_Time":
                assert datetime.fromisoformat(value).utcoffset() is not None
                value = "<now>"
            masked[key] = _masked(value)
        return masked
    if isinstance(node, list):
        return [_masked(v) for v in node]
    return node


def _replay(url: str, token: str, recorded: dict[str, Any]) -> requests.Response:
    """Send the recorded request (placeholders filled from the recorded answer) to the emulator."""
    original = recorded["originalRequest"]
    raw = original["body"]["raw"]
    if "{{record-id}}" in raw:
        raw = raw.replace("{{record-id}}", json.loads(recorded["body"])["data"][0]["details"]["id"])
    headers = {"Content-Type": "application/json"}
    if recorded["name"] != "AUTHENTICATION_FAILURE":
        headers["Authorization"] = f"Bearer {token}"
    path = "/" + "/".join(original["url"]["path"])
    return requests.request(original["method"], url + path, data=raw, headers=headers, timeout=10)


def test_the_seed_holds_eight_recordings(seed_collection: dict[str, Any]) -> None:
    assert [r["name"] for r in seed_collection["response"]] == CASES


@pytest.mark.parametrize("name", CASES)
def test_recorded_response_is_reproduced(
    name: str, seed_collection: dict[str, Any], zoho_emulator: RunningEmulator, mint: Mint
) -> None:
    recorded = next(r for r in seed_collection["response"] if r["name"] == name)
    before = time.time()
    minted = mint().json()
    response = _replay(zoho_emulator.url, minted["access_token"], recorded)
    after = time.time()

    assert response.status_code == recorded["code"]
    assert _masked(response.json()) == _masked(json.loads(recorded["body"]))
    recorded_headers = {h["key"].lower(): h["value"] for h in recorded["header"]}
    assert set(recorded_headers) <= {k.lower() for k in response.headers}
    for key in STABLE_HEADERS & set(recorded_headers):
        assert response.headers[key] == recorded_headers[key], key
    if "x-accesstoken-reset" in recorded_headers:
        expiry = datetime.fromisoformat(response.headers["X-ACCESSTOKEN-RESET"]).timestamp()
        assert before + minted["expires_in"] - 1 <= expiry <= after + minted["expires_in"]


def test_success_changes_the_records(
    seed_collection: dict[str, Any], zoho_emulator: RunningEmulator, crm: Crm
) -> None:
    response = _replay(zoho_emulator.url, crm.token, seed_collection["response"][0])
    records = zoho_emulator.client.records("Leads")
    for entry in response.json()["data"]:
        record = records[entry["details"]["id"]]
        assert record["No_of_Employees"] == 1000
        assert record["Modified_Time"] == entry["details"]["Modified_Time"]
    assert zoho_emulator.client.counters()["records_changed"] == 2
