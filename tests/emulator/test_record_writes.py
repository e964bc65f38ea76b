"""Update Records, Update a Record and Upsert: per-record codes, limits, triggers, the reply's status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_crm_provider.testing.emulator import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm

UNKNOWN_ID = "738964999999999999"
ALL_TRIGGERS = ("workflow", "approval", "blueprint", "pathfinder", "orchestration")


def _codes(response: Any) -> list[str]:
    return [e["code"] for e in response.json()["data"]]


def test_each_record_gets_its_own_value_and_entry_in_order(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    rows = [
        {"id": SEED_IDS[0], "City": "Oslo", "No_of_Employees": 12},
        {"id": NOT_APPROVED_ID, "City": "Lyon"},
        {"City": "Porto"},
        {"id": UNKNOWN_ID, "City": "Leeds"},
        {"id": SEED_IDS[1], "No_of_Employees": "many"},
        {"id": LOCKED_ID, "City": "Reykjavik"},
        {"id": SEED_IDS[1], "City": "Krakow", "Email": "k@example.com", "Description": "long text"},
    ]
    response = crm.update({"data": rows})
    assert response.status_code == 207  # the default partial_status: Zoho's status here is undocumented
    entries = response.json()["data"]
    assert [e["code"] for e in entries] == [
        "SUCCESS",
        "NOT_APPROVED",
        "MANDATORY_NOT_FOUND",
        "INVALID_DATA",
        "INVALID_DATA",
        "RECORD_LOCKED",
        "SUCCESS",
    ]
    assert (entries[0]["message"], entries[0]["details"]["id"]) == ("record updated", SEED_IDS[0])
    assert entries[2]["details"] == {"api_name": "id", "json_path": "$.data[2].id"}
    assert entries[3]["details"] == {"api_name": "id", "json_path": "$.data[3].id"}
    assert entries[3]["message"] == "the id given seems to be invalid"
    assert entries[4]["details"] == {
        "api_name": "No_of_Employees",
        "json_path": "$.data[4].No_of_Employees",
        "expected_data_type": "integer",
    }
    assert entries[5]["details"]["id"] == LOCKED_ID
    records = zoho_emulator.client.records()
    assert (records[SEED_IDS[0]]["City"], records[SEED_IDS[0]]["No_of_Employees"]) == ("Oslo", 12)
    # fields mass update refuses (Email, multi-line) are fine for Update Records
    assert (records[SEED_IDS[1]]["City"], records[SEED_IDS[1]]["Email"]) == ("Krakow", "k@example.com")
    assert records[NOT_APPROVED_ID]["City"] != "Lyon"
    assert records[LOCKED_ID]["City"] != "Reykjavik"
    counters = zoho_emulator.client.counters()
    assert (counters["records_changed"], counters["update_puts"], counters["mass_update_posts"]) == (2, 1, 0)


def test_partial_status_200_all_success_200_all_failed_400(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    mixed = {"data": [{"id": SEED_IDS[0], "City": "Oslo"}, {"id": UNKNOWN_ID, "City": "Oslo"}]}
    zoho_emulator.client.configure(partial_status=200)
    assert crm.update(mixed).status_code == 200
    assert crm.update({"data": [{"id": SEED_IDS[0], "City": "Lyon"}]}).status_code == 200
    failed = crm.update({"data": [{"id": UNKNOWN_ID, "City": "Oslo"}, {"City": "Oslo"}]})
    assert failed.status_code == 400
    assert _codes(failed) == ["INVALID_DATA", "MANDATORY_NOT_FOUND"]  # still one data[] entry each


def test_update_one_record_by_path(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    response = crm.update({"data": [{"Lead_Status": "Contacted"}]}, record_id=SEED_IDS[0])
    assert response.status_code == 200
    assert response.json()["data"][0]["details"]["id"] == SEED_IDS[0]
    assert zoho_emulator.client.record("Leads", SEED_IDS[0])["Lead_Status"] == "Contacted"
    missing = crm.update({"data": [{"City": "Oslo"}]}, record_id=UNKNOWN_ID)
    assert (missing.status_code, _codes(missing)) == (400, ["INVALID_DATA"])
    two = crm.update({"data": [{"City": "Oslo"}, {"City": "Lyon"}]}, record_id=SEED_IDS[0])
    assert (two.status_code, two.json()["code"]) == (400, "LIMIT_EXCEEDED")


def test_101_records_are_refused_and_100_are_not(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    ids = zoho_emulator.client.seed("Leads", count=101)
    over = crm.update({"data": [{"id": i, "City": "Oslo"} for i in ids]})
    assert over.status_code == 400
    assert over.json() == {
        "code": "LIMIT_EXCEEDED",
        "details": {"api_name": "data", "json_path": "$.data", "limit": 100},
        "message": "Record count exceeded",
        "status": "error",
    }
    assert zoho_emulator.client.counters()["records_changed"] == 0
    assert _codes(crm.update({"data": [{"id": i, "City": "Oslo"} for i in ids[:100]]})) == ["SUCCESS"] * 100
    upsert_over = crm.upsert({"data": [{"Last_Name": f"N{n}"} for n in range(101)]})
    assert (upsert_over.status_code, upsert_over.json()["code"]) == (400, "LIMIT_EXCEEDED")


@pytest.mark.parametrize(
    ("body", "code", "details"),
    [
        ({"data": []}, "MANDATORY_NOT_FOUND", {"api_name": "data", "json_path": "$.data"}),
        ({"trigger": []}, "MANDATORY_NOT_FOUND", {"api_name": "data", "json_path": "$.data"}),
        ([{"id": SEED_IDS[0]}], "INVALID_DATA", {}),
        (
            {"data": [{"id": SEED_IDS[0]}], "trigger": ["cadences"]},
            "INVALID_DATA",
            {"api_name": "trigger", "json_path": "$.trigger", "supported_values": list(ALL_TRIGGERS)},
        ),
    ],
)
def test_request_level_errors_are_bare_400s(crm: Crm, body: Any, code: str, details: dict[str, Any]) -> None:
    response = crm.update(body)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["details"]) == (code, details)
    unknown = crm.update({"data": [{"id": SEED_IDS[0]}]}, module="Leadz")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "INVALID_MODULE")


def test_mandatory_fields_cannot_be_cleared(crm: Crm) -> None:
    response = crm.update({"data": [{"id": SEED_IDS[0], "Last_Name": None}]})
    (entry,) = response.json()["data"]
    assert entry["code"] == "MANDATORY_NOT_FOUND"
    assert entry["details"] == {"api_name": "Last_Name", "json_path": "$.data[0].Last_Name"}


def test_unique_fields_answer_duplicate_data(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.define_fields("Leads", {"Tax_Id": {"type": "text", "unique": True}})
    client.seed("Leads", ids=[SEED_IDS[0]], fields={"Tax_Id": "T-1"})
    response = crm.update(
        {"data": [{"id": SEED_IDS[1], "Tax_Id": "T-1"}, {"id": SEED_IDS[1], "Tax_Id": "T-2"}]}
    )
    duplicate, ok = response.json()["data"]
    assert (duplicate["code"], duplicate["message"]) == ("DUPLICATE_DATA", "duplicate data")
    assert duplicate["details"] == {
        "api_name": "Tax_Id",
        "json_path": "$.data[0].Tax_Id",
        "duplicate_record": {"id": SEED_IDS[0], "module": {"api_name": "Leads"}},
    }
    assert ok["code"] == "SUCCESS"
    assert client.record("Leads", SEED_IDS[1])["Tax_Id"] == "T-2"
    # a record may keep its own value
    assert _codes(crm.update({"data": [{"id": SEED_IDS[0], "Tax_Id": "T-1"}]})) == ["SUCCESS"]


def test_if_unmodified_since_answers_already_modified(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    stamp = crm.update({"data": [{"id": SEED_IDS[0], "City": "Oslo"}]}).json()["data"][0]["details"]
    before = "2021-05-07T06:40:00+00:00"  # before the update just made, after SEED_IDS[1]'s creation
    rows = {"data": [{"id": SEED_IDS[0], "City": "Lyon"}, {"id": SEED_IDS[1], "City": "Lyon"}]}
    response = crm.update(rows, headers={"If-Unmodified-Since": before})
    assert response.status_code == 207
    stale, fresh = response.json()["data"]
    assert (stale["code"], stale["details"], fresh["code"]) == (
        "ALREADY_MODIFIED",
        {"id": SEED_IDS[0]},
        "SUCCESS",
    )
    assert zoho_emulator.client.record("Leads", SEED_IDS[0])["City"] == "Oslo"
    alone = crm.update(
        {"data": [{"City": "Lyon"}]}, record_id=SEED_IDS[0], headers={"If-Unmodified-Since": before}
    )
    assert (alone.status_code, _codes(alone)) == (412, ["ALREADY_MODIFIED"])  # the docs' 412
    later = crm.update(
        {"data": [{"City": "Lyon"}]},
        record_id=SEED_IDS[0],
        headers={"If-Unmodified-Since": stamp["Modified_Time"]},
    )
    assert later.status_code == 200
    bad = crm.update(
        {"data": [{"City": "Lyon"}]}, record_id=SEED_IDS[0], headers={"If-Unmodified-Since": "soon"}
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_DATA")


@pytest.mark.parametrize(
    ("trigger", "fired"),
    [
        (None, dict.fromkeys(ALL_TRIGGERS, 2)),  # no trigger: Zoho runs all automation
        ([], {}),
        (["workflow", "approval"], {"workflow": 2, "approval": 2}),
    ],
)
def test_trigger_is_passed_through(
    crm: Crm, zoho_emulator: RunningEmulator, trigger: list[str] | None, fired: dict[str, int]
) -> None:
    body: dict[str, Any] = {"data": [{"id": i, "City": "Oslo"} for i in SEED_IDS] + [{"id": UNKNOWN_ID}]}
    if trigger is not None:
        body["trigger"] = trigger
    crm.update(body)
    assert zoho_emulator.client.counters()["triggers_fired"] == fired
    assert zoho_emulator.client.log()[-1]["body"] == body  # the request log keeps what was sent


def test_append_values_appends_to_a_multi_select(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    before = zoho_emulator.client.record("Leads", SEED_IDS[0])["Product_Interest"]
    extra = next(v for v in ("CRM", "Analytics", "Mail", "Desk", "Books") if v not in before)
    rows = [
        {"id": SEED_IDS[0], "Product_Interest": [extra], "$append_values": {"Product_Interest": True}},
        {"id": SEED_IDS[1], "Product_Interest": ["Desk"]},
        {"id": SEED_IDS[1], "Owner": {"id": "738964000000291009"}},
    ]
    assert _codes(crm.update({"data": rows})) == ["SUCCESS"] * 3
    records = zoho_emulator.client.records()
    assert records[SEED_IDS[0]]["Product_Interest"] == [*before, extra]
    assert records[SEED_IDS[1]]["Product_Interest"] == ["Desk"]
    assert records[SEED_IDS[1]]["Owner"]["id"] == "738964000000291009"


def test_upsert_updates_matches_and_inserts_real_leads(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    email = client.record("Leads", SEED_IDS[1])["Email"]
    rows = [
        {"Last_Name": "Okafor", "Email": email, "City": "Oslo"},  # matched on Email
        {"Last_Name": "Nakamura", "Email": "new.lead@example.com", "City": "Osaka"},  # inserted
        {"id": SEED_IDS[0], "City": "Lyon"},  # by id
        {"Email": "nameless@example.com"},  # an insert needs Last_Name
    ]
    response = crm.upsert({"data": rows, "duplicate_check_fields": ["Email"]})
    assert response.status_code == 207
    matched, inserted, by_id, refused = response.json()["data"]
    assert (matched["action"], matched["duplicate_field"], matched["details"]["id"]) == (
        "update",
        "Email",
        SEED_IDS[1],
    )
    assert (matched["message"], inserted["message"]) == ("record updated", "record added")
    assert (inserted["action"], inserted["duplicate_field"]) == ("insert", None)
    assert (by_id["action"], by_id["details"]["id"]) == ("update", SEED_IDS[0])
    assert (refused["code"], refused["details"]) == (
        "MANDATORY_NOT_FOUND",
        {"api_name": "Last_Name", "json_path": "$.data[3].Last_Name"},
    )
    new_id = inserted["details"]["id"]
    stored = client.record("Leads", new_id)
    assert stored is not None
    assert (stored["Last_Name"], stored["City"]) == ("Nakamura", "Osaka")
    assert stored["Created_Time"] == inserted["details"]["Created_Time"]
    assert client.record("Leads", SEED_IDS[1])["City"] == "Oslo"
    counters = client.counters()
    assert (counters["records_inserted"], counters["records_changed"], counters["upsert_posts"]) == (1, 2, 1)
    # the new lead is real: the next upsert with its email updates it
    again = crm.upsert(
        {"data": [{"Last_Name": "Nakamura", "Email": "new.lead@example.com", "City": "Kyoto"}]}
    )
    assert (again.status_code, again.json()["data"][0]["details"]["id"]) == (200, new_id)
    assert client.record("Leads", new_id)["City"] == "Kyoto"


def test_upsert_duplicate_check_fields(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.define_fields("Leads", {"Tax_Id": {"type": "text", "unique": True}})
    client.seed("Leads", ids=[SEED_IDS[0]], fields={"Tax_Id": "T-9"})
    body = {
        "data": [{"Last_Name": "Rossi", "Tax_Id": "T-9", "City": "Porto"}],
        "duplicate_check_fields": ["Tax_Id"],
    }
    entry = crm.upsert(body).json()["data"][0]
    assert (entry["action"], entry["duplicate_field"], entry["details"]["id"]) == (
        "update",
        "Tax_Id",
        SEED_IDS[0],
    )
    wrong = crm.upsert({"data": [{"Last_Name": "Rossi"}], "duplicate_check_fields": ["Email", "City"]})
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "INVALID_DATA"
    assert wrong.json()["details"]["json_path"] == "$.duplicate_check_fields[1]"
    assert client.counters()["records_inserted"] == 0


def test_the_new_routes_take_only_their_methods(crm: Crm) -> None:
    response = crm.call("GET", "/crm/v8/Leads/upsert")
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_REQUEST_METHOD")
    assert crm.call("GET", "/crm/v8/Leads/upsert/more").status_code == 404
