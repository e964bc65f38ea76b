"""Documented errors on demand: scopes on tokens, seeded refusals, records in blueprint / stop processing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_crm_provider.testing.client import EmulatorAdminError
from airflow_crm_provider.testing.emulator import SEED_IDS
from airflow_crm_provider.testing.emulator.refusals import CATALOGUE

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm, Mint, Validate

BODY = {"data": [{"City": "Porto"}], "ids": list(SEED_IDS)}
SCOPE_MISMATCH = {
    "code": "OAUTH_SCOPE_MISMATCH",
    "details": {},
    "message": "invalid oauth scope to access this URL",
    "status": "error",
}
ERROR_SCHEMA = "record.json#/components/schemas/API_Exception"
#: Catalogued codes whose code or message the OAS's enums lack: the v7 docs' AUTHORIZATION_FAILED,
#: the v8 OAuth page's INVALID_OAUTHTOKEN, the status page's 429, and the scope-mismatch message Zoho
#: sends (the OAS lists the code only).
NOT_IN_OAS = {"AUTHORIZATION_FAILED", "INVALID_OAUTHTOKEN", "TOO_MANY_REQUESTS", "OAUTH_SCOPE_MISMATCH"}


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["ZohoCRM.mass_update.leads.UPDATE"], True),
        (["ZohoCRM.mass_update.UPDATE"], True),
        (["ZohoCRM.mass_update.ALL"], True),
        (["zohocrm.MASS_UPDATE.Leads.all"], True),  # scope names are case-insensitive
        (["ZohoCRM.mass_update.contacts.UPDATE"], False),
        (["ZohoCRM.mass_update.leads.READ"], False),
        (["ZohoCRM.modules.ALL"], False),
    ],
)
def test_a_mass_update_needs_the_mass_update_scope(
    crm: Crm, zoho_emulator: RunningEmulator, scopes: list[str], allowed: bool
) -> None:
    token = zoho_emulator.client.issue_token(scopes=scopes)
    response = crm.mass_update(BODY, token=token)
    if allowed:
        assert response.status_code == 200
        assert [e["code"] for e in response.json()["data"]] == ["SUCCESS", "SUCCESS"]
    else:
        assert (response.status_code, response.json()) == (401, SCOPE_MISMATCH)
        assert zoho_emulator.client.counters()["records_changed"] == 0


def test_minted_tokens_carry_the_refresh_tokens_scopes(
    crm: Crm, zoho_emulator: RunningEmulator, mint: Mint
) -> None:
    refresh = zoho_emulator.client.issue_refresh_token(scopes=["ZohoCRM.modules.leads.READ"])
    answer = mint(refresh_token=refresh).json()
    assert answer["scope"] == "ZohoCRM.modules.leads.READ"
    token = answer["access_token"]
    assert crm.call("GET", f"/crm/v8/Leads/{SEED_IDS[0]}", token=token).status_code == 200
    assert crm.mass_update(BODY, token=token).json() == SCOPE_MISMATCH
    assert crm.call("GET", "/crm/v8/Contacts", token=token).json() == SCOPE_MISMATCH
    assert (
        crm.call("GET", "/crm/v8/settings/fields", params={"module": "Leads"}, token=token).status_code == 401
    )


def test_the_status_of_a_job_needs_the_read_scope(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    token = zoho_emulator.client.issue_token(scopes=["ZohoCRM.mass_update.leads.UPDATE"])
    response = crm.call("GET", "/crm/v8/Leads/actions/mass_update", params={"job_id": "1"}, token=token)
    assert response.json() == SCOPE_MISMATCH


@pytest.mark.parametrize("shape", ["seed", "documented"])
@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_catalogued_refusal_answers_as_documented(
    crm: Crm, zoho_emulator: RunningEmulator, oas: Validate, code: str, shape: str
) -> None:
    client = zoho_emulator.client
    client.configure(error_shape=shape)
    client.refuse(code, times=1)
    response = crm.mass_update(BODY)
    status, message, details = CATALOGUE[code]
    body = response.json()
    entry: dict[str, Any] = body["data"][0] if "data" in body else body
    assert (entry["code"], entry["message"], entry["details"], entry["status"]) == (
        code,
        message,
        details,
        "error",
    )
    bare = "data" not in body
    assert response.status_code == (status if bare else (202 if status == 202 else 200))
    if shape == "documented":
        assert bare
    if code not in NOT_IN_OAS:
        oas(ERROR_SCHEMA, entry)
    assert client.counters()["records_changed"] == 0
    # used up: the next request goes through
    assert [e["code"] for e in crm.mass_update(BODY).json()["data"]] == ["SUCCESS", "SUCCESS"]


def test_a_refusal_targets_its_operation_and_module(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.refuse("NO_PERMISSION", operation="read", module="Contacts")
    assert crm.call("GET", "/crm/v8/Contacts").json()["code"] == "NO_PERMISSION"
    assert crm.call("GET", "/crm/v8/Contacts").status_code == 403  # times=None: until cleared
    assert crm.call("GET", "/crm/v8/Leads").status_code == 200
    assert (
        crm.mass_update({"data": [{"Department": "x"}], "ids": ["1"]}, module="Contacts").status_code == 200
    )
    assert client.refusals() == [
        {"code": "NO_PERMISSION", "operation": "read", "module": "Contacts", "times": None}
    ]
    client.clear_refusals()
    assert crm.call("GET", "/crm/v8/Contacts").status_code == 200
    assert client.counters()["refusals_answered"] == 2


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"code": "NOT_A_CODE"}, "code must be one of"),
        ({"code": "NO_PERMISSION", "operation": "delete"}, "operation must be one of"),
        ({"code": "NO_PERMISSION", "times": 0}, "times must be"),
        ({"code": "NO_PERMISSION", "module": ""}, "module must be"),
    ],
)
def test_bad_refusals_are_refused(
    zoho_emulator: RunningEmulator, arguments: dict[str, Any], match: str
) -> None:
    code = arguments.pop("code")
    with pytest.raises(EmulatorAdminError, match=match):
        zoho_emulator.client.refuse(code, **arguments)


@pytest.mark.parametrize(
    ("state", "code", "message"),
    [
        ("in_blueprint", "RECORD_IN_BLUEPRINT", "The record is in blue print"),
        ("cannot_process", "CANNOT_PROCESS", "The record is in stop processing"),
    ],
)
def test_records_in_blueprint_or_stop_processing_are_refused_per_row(
    crm: Crm, zoho_emulator: RunningEmulator, oas: Validate, state: str, code: str, message: str
) -> None:
    (blocked,) = zoho_emulator.client.seed(**{state: ["738964000009000001"]})
    response = crm.mass_update({"data": [{"City": "Porto"}], "ids": [SEED_IDS[0], blocked]})
    ok, refused = response.json()["data"]
    assert ok["code"] == "SUCCESS"
    assert refused == {"code": code, "details": {"id": blocked}, "message": message, "status": "error"}
    oas(ERROR_SCHEMA, refused)
    assert zoho_emulator.client.record("Leads", blocked)["City"] != "Porto"


def test_a_job_counts_blocked_records_as_failed(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.configure(job_duration=0)
    ids = client.seed(count=3)
    client.seed(in_blueprint=[ids[0]], cannot_process=[ids[1]], custom_views={"555": ids})
    job_id = crm.mass_update({"data": [{"City": "Porto"}], "cvid": "555"}).json()["data"][0]["details"][
        "job_id"
    ]
    status = crm.status(job_id).json()["data"][0]
    assert (status["Status"], status["Updated_Count"], status["Failed_Count"]) == ("COMPLETED", 1, 2)


def test_a_second_app_mints_with_its_own_credentials(zoho_emulator: RunningEmulator, mint: Mint) -> None:
    client = zoho_emulator.client
    refresh = client.issue_refresh_token(client_id="1000.SECONDAPP", client_secret="second-secret")
    assert (
        "error"
        not in mint(refresh_token=refresh, client_id="1000.SECONDAPP", client_secret="second-secret").json()
    )
    # a refresh token is its app's: another app's credentials do not mint with it
    assert mint(refresh_token=refresh).json() == {"error": "invalid_code"}
    assert mint(refresh_token=refresh, client_id="1000.SECONDAPP", client_secret="wrong").json() == {
        "error": "invalid_client"
    }


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.issue_token(client_id="1000.NOBODY"), "is not registered"),
        (lambda c: c.issue_refresh_token(client_id="1000.NEW"), "give its client_secret"),
        (
            lambda c: c.issue_refresh_token(client_id="1000.EMULATORCLIENTID", client_secret="x"),
            "another client_secret",
        ),
        (lambda c: c.issue_token(scopes=["everything"]), "scopes must be a list of scope names"),
    ],
)
def test_bad_token_requests_are_refused(zoho_emulator: RunningEmulator, call: Any, match: str) -> None:
    with pytest.raises(EmulatorAdminError, match=match):
        call(zoho_emulator.client)
