"""The emulator driven by Zoho's SDK, unpatched: mass update both ways, job status, reads, errors, tokens."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from zohocrmsdk.src.com.zoho.crm.api import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.record import (
    APIException,
    GetMassUpdateStatusParam,
    GetRecordsParam,
    MassUpdate,
    MassUpdateActionWrapper,
    MassUpdateBodyWrapper,
    MassUpdateResponseWrapper,
    MassUpdateSuccessResponse,
    MassUpdateTerritory,
    Record,
    RecordOperations,
    ResponseWrapper,
)
from zohocrmsdk.src.com.zoho.crm.api.util import Choice

from airflow_crm_provider.testing.emulator import (
    LEADS_VIEW_ID,
    LOCKED_ID,
    NOT_APPROVED_ID,
    SEED_IDS,
    TERRITORY_ID,
)
from airflow_crm_provider.testing.emulator.refusals import CATALOGUE
from tests.conformance.conftest import initialize

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conformance.conftest import Sdk


def _body(field: str, value: Any, **target: Any) -> MassUpdateBodyWrapper:
    record = Record()
    record.add_key_value(field, value)
    body = MassUpdateBodyWrapper()
    body.set_data([record])
    for key, item in target.items():
        getattr(body, f"set_{key}")(item)
    return body


def _entries(response: Any) -> list[Any]:
    wrapper = response.get_object()
    assert isinstance(wrapper, MassUpdateActionWrapper), wrapper
    return list(wrapper.get_data())


def _status(job_id: str) -> MassUpdate:
    params = ParameterMap()
    params.add(GetMassUpdateStatusParam.job_id, job_id)
    response = RecordOperations("Leads").get_mass_update_status(params)
    wrapper = response.get_object()
    assert isinstance(wrapper, MassUpdateResponseWrapper), wrapper
    (job,) = wrapper.get_data()
    return job


def test_mass_update_by_ids(zoho_sdk: Sdk) -> None:
    response = RecordOperations("Leads").mass_update_records(
        _body(
            "Lead_Status",
            Choice("Contacted"),  # a picklist value is a Choice to the SDK
            ids=list(SEED_IDS),
            over_write=False,
        )
    )
    assert response.get_status_code() == 200
    entries = _entries(response)
    assert [type(e) for e in entries] == [MassUpdateSuccessResponse] * 2
    assert [e.get_code().get_value() for e in entries] == ["SUCCESS", "SUCCESS"]
    # the emulator sends ids as strings (the OAS's type); the SDK turns them into ints (its long)
    assert [str(e.get_details()["id"]) for e in entries] == list(SEED_IDS)
    records = zoho_sdk.admin.records()
    assert {records[i]["Lead_Status"] for i in SEED_IDS} == {"Contacted"}
    # the SDK found its user and org with the new token, read the field metadata, then sent the body
    paths = [e["path"] for e in zoho_sdk.crm_log()]
    assert paths == [
        "/crm/v8/users",
        "/crm/v8/org",
        "/crm/v8/settings/fields",
        "/crm/v8/Leads/actions/mass_update",
    ]
    assert zoho_sdk.crm_log()[-1]["body"] == {
        "data": [{"Lead_Status": "Contacted"}],
        "ids": list(SEED_IDS),
        "over_write": False,
    }


def test_mass_update_by_view_and_territory_then_job_status(zoho_sdk: Sdk) -> None:
    zoho_sdk.admin.configure(job_duration=0.3)
    territory = MassUpdateTerritory()
    territory.set_id(int(TERRITORY_ID))  # the SDK types ids as ints; Zoho accepts both
    territory.set_include_child(False)
    body = _body("Rating", Choice("Active"), cvid=LEADS_VIEW_ID, territory=territory)
    (entry,) = _entries(RecordOperations("Leads").mass_update_records(body))
    assert isinstance(entry, MassUpdateSuccessResponse)
    assert entry.get_message().get_value() == "mass update scheduled successfully"
    job_id = entry.get_details()["job_id"]
    first = _status(job_id)
    assert first.get_status().get_value() in ("SCHEDULED", "RUNNING")
    time.sleep(0.35)
    done = _status(job_id)
    assert done.get_status().get_value() == "COMPLETED"
    assert done.get_total_count() == done.get_updated_count() > 0
    assert (done.get_failed_count(), done.get_not_updated_count()) == (0, 0)


def test_record_reads(zoho_sdk: Sdk) -> None:
    operations = RecordOperations("Leads")
    params = ParameterMap()
    params.add(GetRecordsParam.ids, ",".join(SEED_IDS))
    params.add(GetRecordsParam.fields, "Last_Name,Lead_Status,No_of_Employees")
    wrapper = operations.get_records(params).get_object()
    assert isinstance(wrapper, ResponseWrapper), wrapper
    got = {r.get_id(): r for r in wrapper.get_data()}
    assert set(got) == {int(i) for i in SEED_IDS} or set(map(str, got)) == set(SEED_IDS)
    stored = zoho_sdk.admin.records()
    for record_id, record in got.items():
        expected = stored[str(record_id)]
        assert record.get_key_value("Last_Name") == expected["Last_Name"]
        assert record.get_key_value("No_of_Employees") == expected["No_of_Employees"]
    one = operations.get_record(int(SEED_IDS[0])).get_object()
    assert isinstance(one, ResponseWrapper)
    assert one.get_data()[0].get_key_value("Last_Name") == stored[SEED_IDS[0]]["Last_Name"]


@pytest.mark.parametrize(
    ("record_id", "code"),
    [
        (NOT_APPROVED_ID, "NOT_APPROVED"),
        (LOCKED_ID, "RECORD_LOCKED"),
        ("738964000009200001", "RECORD_IN_BLUEPRINT"),
        ("738964000009200002", "CANNOT_PROCESS"),
        ("738964999999999999", "INVALID_DATA"),
    ],
)
def test_row_level_errors_parse_as_api_exceptions(zoho_sdk: Sdk, record_id: str, code: str) -> None:
    zoho_sdk.admin.seed(in_blueprint=["738964000009200001"], cannot_process=["738964000009200002"])
    entries = _entries(
        RecordOperations("Leads").mass_update_records(_body("City", "Oslo", ids=[SEED_IDS[0], record_id]))
    )
    assert isinstance(entries[0], MassUpdateSuccessResponse)
    refused = entries[1]
    assert isinstance(refused, APIException), refused
    assert (refused.get_code().get_value(), str(refused.get_details()["id"])) == (code, record_id)


@pytest.mark.parametrize("shape", ["seed", "documented"])
@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_seeded_refusal_parses_as_an_api_exception(zoho_sdk: Sdk, code: str, shape: str) -> None:
    zoho_sdk.admin.configure(error_shape=shape)
    RecordOperations("Leads").mass_update_records(_body("City", "Oslo", ids=[SEED_IDS[0]]))  # fields cached
    zoho_sdk.admin.refuse(code, times=1)
    response = RecordOperations("Leads").mass_update_records(_body("City", "Lyon", ids=[SEED_IDS[0]]))
    status, message, _ = CATALOGUE[code]
    found = response.get_object()
    if isinstance(found, MassUpdateActionWrapper):  # the seed's shape: one data[] entry under HTTP 200
        assert shape == "seed"
        assert response.get_status_code() == (202 if status == 202 else 200)
        (found,) = found.get_data()
    else:
        assert response.get_status_code() == status
    assert isinstance(found, APIException), found
    assert (found.get_code().get_value(), found.get_message().get_value()) == (code, message)
    assert zoho_sdk.admin.records()[SEED_IDS[0]]["City"] == "Oslo"


def test_a_token_without_the_mass_update_scope(zoho_emulator: Any, tmp_path: Path) -> None:
    refresh = zoho_emulator.client.issue_refresh_token(
        scopes=["ZohoCRM.settings.ALL", "ZohoCRM.users.READ", "ZohoCRM.org.READ", "ZohoCRM.modules.ALL"]
    )
    initialize(zoho_emulator, tmp_path, refresh_token=refresh)
    response = RecordOperations("Leads").mass_update_records(_body("City", "Oslo", ids=[SEED_IDS[0]]))
    found = response.get_object()
    assert response.get_status_code() == 401
    assert isinstance(found, APIException)
    assert found.get_code().get_value() == "OAUTH_SCOPE_MISMATCH"


def test_the_sdk_refreshes_tokens_about_to_expire(zoho_emulator: Any, tmp_path: Path) -> None:
    zoho_emulator.client.configure(token_ttl=3)  # expires_in 3 s: the SDK refreshes below 5 s left
    zoho_sdk = initialize(zoho_emulator, tmp_path)
    for value in ("Oslo", "Lyon", "Porto"):
        RecordOperations("Leads").mass_update_records(_body("City", value, ids=[SEED_IDS[0]]))
    minted = zoho_sdk.admin.counters()["tokens_minted"]
    tokens = [e["headers"]["authorization"] for e in zoho_sdk.crm_log()]
    # users + org ride on the first token; every later call found its token under 5 s from expiry
    assert len(tokens) == 6
    assert minted == len(set(tokens)) == 5
    assert zoho_sdk.admin.records()[SEED_IDS[0]]["City"] == "Porto"


def test_an_evicted_token_reaches_the_sdk_as_invalid_oauthtoken(zoho_sdk: Sdk) -> None:
    admin = zoho_sdk.admin
    RecordOperations("Leads").mass_update_records(_body("City", "Oslo", ids=[SEED_IDS[0]]))
    admin.configure(mint_limit=100, active_tokens=1)
    import requests

    from airflow_crm_provider.testing.emulator import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

    form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
    requests.post(f"{zoho_sdk.emulator.url}/oauth/v2/token", data=form, timeout=10).raise_for_status()
    response = RecordOperations("Leads").mass_update_records(_body("City", "Lyon", ids=[SEED_IDS[0]]))
    found = response.get_object()
    assert response.get_status_code() == 401
    assert isinstance(found, APIException)
    assert found.get_code().get_value() == "INVALID_OAUTHTOKEN"
