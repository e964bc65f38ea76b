"""Zoho's SDK, unpatched, updates records, updates one record and upserts against the emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from zohocrmsdk.src.com.zoho.crm.api.record import (
    ActionWrapper,
    APIException,
    BodyWrapper,
    Record,
    RecordOperations,
    SuccessResponse,
)

from airflow_crm_provider.testing.emulator import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS

if TYPE_CHECKING:
    from tests.conformance.conftest import Sdk


def _record(values: dict[str, Any], record_id: str | None = None) -> Record:
    record = Record()
    if record_id is not None:
        record.set_id(int(record_id))  # the SDK types ids as ints (and sends them as JSON numbers)
    for key, value in values.items():
        record.add_key_value(key, value)
    return record


def _body(records: list[Record], **keys: Any) -> BodyWrapper:
    body = BodyWrapper()
    body.set_data(records)
    for key, value in keys.items():
        getattr(body, f"set_{key}")(value)
    return body


def _entries(response: Any) -> list[Any]:
    wrapper = response.get_object()
    assert isinstance(wrapper, ActionWrapper), wrapper
    return list(wrapper.get_data())


@pytest.mark.parametrize("partial_status", [207, 200])
def test_update_records_with_a_value_per_record(zoho_sdk: Sdk, partial_status: int) -> None:
    zoho_sdk.admin.configure(partial_status=partial_status)
    records = [
        _record({"City": "Oslo", "No_of_Employees": 12}, SEED_IDS[0]),
        _record({"City": "Lyon"}, SEED_IDS[1]),
        _record({"City": "Porto"}, NOT_APPROVED_ID),
        _record({"City": "Leeds"}, LOCKED_ID),
    ]
    response = RecordOperations("Leads").update_records(_body(records, trigger=["workflow"]))
    assert response.get_status_code() == partial_status
    entries = _entries(response)
    assert [type(e) for e in entries] == [SuccessResponse, SuccessResponse, APIException, APIException]
    assert [e.get_code().get_value() for e in entries] == [
        "SUCCESS",
        "SUCCESS",
        "NOT_APPROVED",
        "RECORD_LOCKED",
    ]
    assert [str(e.get_details()["id"]) for e in entries] == [
        SEED_IDS[0],
        SEED_IDS[1],
        NOT_APPROVED_ID,
        LOCKED_ID,
    ]
    stored = zoho_sdk.admin.records()
    assert (stored[SEED_IDS[0]]["City"], stored[SEED_IDS[0]]["No_of_Employees"]) == ("Oslo", 12)
    assert stored[SEED_IDS[1]]["City"] == "Lyon"
    sent = zoho_sdk.crm_log()[-1]
    assert (sent["method"], sent["path"]) == ("PUT", "/crm/v8/Leads")
    assert sent["body"]["trigger"] == ["workflow"]
    assert [str(r["id"]) for r in sent["body"]["data"]] == [
        SEED_IDS[0],
        SEED_IDS[1],
        NOT_APPROVED_ID,
        LOCKED_ID,
    ]


def test_update_one_record(zoho_sdk: Sdk) -> None:
    response = RecordOperations("Leads").update_record(int(SEED_IDS[0]), _body([_record({"City": "Berlin"})]))
    assert response.get_status_code() == 200
    (entry,) = _entries(response)
    assert isinstance(entry, SuccessResponse)
    assert entry.get_message().get_value() == "record updated"
    assert zoho_sdk.admin.record("Leads", SEED_IDS[0])["City"] == "Berlin"
    assert zoho_sdk.crm_log()[-1]["path"] == f"/crm/v8/Leads/{SEED_IDS[0]}"


def test_a_write_whose_every_record_failed_parses_from_the_400(zoho_sdk: Sdk) -> None:
    response = RecordOperations("Leads").update_records(
        _body([_record({"City": "Oslo"}, "738964999999999999")])
    )
    assert response.get_status_code() == 400
    (entry,) = _entries(response)
    assert isinstance(entry, APIException)
    assert (entry.get_code().get_value(), entry.get_details()["json_path"]) == (
        "INVALID_DATA",
        "$.data[0].id",
    )


def test_upsert_inserts_and_updates(zoho_sdk: Sdk) -> None:
    existing = zoho_sdk.admin.record("Leads", SEED_IDS[1])["Email"]
    records = [
        _record({"Last_Name": "Nakamura", "Email": "nakamura@example.com", "City": "Osaka"}),
        _record({"Last_Name": "Okafor", "Email": existing, "City": "Oslo"}),
    ]
    response = RecordOperations("Leads").upsert_records(_body(records, duplicate_check_fields=["Email"]))
    assert response.get_status_code() == 200
    inserted, updated = _entries(response)
    assert isinstance(inserted, SuccessResponse)
    assert isinstance(updated, SuccessResponse)
    assert (inserted.get_action().get_value(), inserted.get_message().get_value()) == (
        "insert",
        "record added",
    )
    assert (updated.get_action().get_value(), updated.get_duplicate_field()) == ("update", "Email")
    assert str(updated.get_details()["id"]) == SEED_IDS[1]
    new_id = str(inserted.get_details()["id"])
    lead = zoho_sdk.admin.record("Leads", new_id)
    assert lead is not None
    assert (lead["Last_Name"], lead["City"]) == ("Nakamura", "Osaka")
    assert zoho_sdk.admin.record("Leads", SEED_IDS[1])["City"] == "Oslo"
    assert zoho_sdk.crm_log()[-1]["body"]["duplicate_check_fields"] == ["Email"]
