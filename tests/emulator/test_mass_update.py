"""Mass update in ids mode: per-record results, request-level errors in both shapes, over_write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_crm_provider.testing.emulator import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm


ONE_FIELD = [{"No_of_Employees": 250}]
#: body -> (code, message, details) of the request-level error.
REQUEST_ERRORS = [
    ({"data": [{}], "ids": list(SEED_IDS)}, ("INVALID_DATA", "No field found", {})),
    (
        {"data": [{"Email": "a@example.com"}], "ids": list(SEED_IDS)},
        ("INVALID_DATA", "This field cannot be updated in the Mass Update", {"api_name": "Email"}),
    ),
    (
        {"data": [{"Owner": {"id": "1"}}], "ids": list(SEED_IDS)},
        ("INVALID_DATA", "This field cannot be updated in the Mass Update", {"api_name": "Owner"}),
    ),
    (
        {"data": [{"Description": "x"}], "ids": list(SEED_IDS)},
        ("INVALID_DATA", "This field cannot be updated in the Mass Update", {"api_name": "Description"}),
    ),
    (
        {"data": [{"City": "Paris", "Country": "France"}], "ids": list(SEED_IDS)},
        ("INVALID_DATA", "Max field limit exceeded", {"limit": 1}),
    ),
    (
        {"data": [{"No_of_Employees": "many"}], "ids": list(SEED_IDS)},
        (
            "INVALID_DATA",
            "invalid data",
            {
                "api_name": "No_of_Employees",
                "expected_data_type": "integer",
                "json_path": "$.data[0].No_of_Employees",
            },
        ),
    ),
    ({"data": [{"City": "Paris"}]}, ("MANDATORY_NOT_FOUND", "required field not found", {})),
    ({"ids": list(SEED_IDS)}, ("MANDATORY_NOT_FOUND", "required field not found", {"api_name": "data"})),
    (
        {"data": [{"City": "Paris"}], "ids": []},
        ("MANDATORY_NOT_FOUND", "required field not found", {"api_name": "ids"}),
    ),
    (
        {"data": [{"City": "Paris"}], "ids": [str(10**17 + i) for i in range(501)]},
        ("LIMIT_EXCEEDED", "Record count exceeded", {"api_name": "ids", "limit": 500}),
    ),
]


def test_each_id_gets_its_own_entry_in_order(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    ids = [NOT_APPROVED_ID, SEED_IDS[0], "111111111111111111", LOCKED_ID, SEED_IDS[1]]
    response = crm.mass_update({"data": ONE_FIELD, "ids": ids})
    assert response.status_code == 200
    entries = response.json()["data"]
    assert [(e["code"], e["details"]["id"]) for e in entries] == [
        ("NOT_APPROVED", NOT_APPROVED_ID),
        ("SUCCESS", SEED_IDS[0]),
        ("INVALID_DATA", "111111111111111111"),
        ("RECORD_LOCKED", LOCKED_ID),
        ("SUCCESS", SEED_IDS[1]),
    ]
    assert entries[2]["message"] == "the id given seems to be invalid"
    records = zoho_emulator.client.records()
    assert [records[i]["No_of_Employees"] for i in SEED_IDS] == [250, 250]
    assert records[NOT_APPROVED_ID]["No_of_Employees"] != 250
    assert records[LOCKED_ID]["No_of_Employees"] != 250
    assert zoho_emulator.client.counters()["records_changed"] == 2


@pytest.mark.parametrize(("body", "expected"), REQUEST_ERRORS)
def test_request_level_errors_in_the_seed_shape(
    crm: Crm, zoho_emulator: RunningEmulator, body: dict[str, Any], expected: tuple[str, str, dict[str, Any]]
) -> None:
    before = zoho_emulator.client.records()
    response = crm.mass_update(body)
    code, message, details = expected
    assert response.status_code == 200
    assert response.json() == {
        "data": [{"code": code, "details": details, "message": message, "status": "error"}]
    }
    assert zoho_emulator.client.records() == before


@pytest.mark.parametrize(("body", "expected"), REQUEST_ERRORS[:3])
def test_request_level_errors_in_the_documented_shape(
    crm: Crm, zoho_emulator: RunningEmulator, body: dict[str, Any], expected: tuple[str, str, dict[str, Any]]
) -> None:
    zoho_emulator.client.configure(error_shape="documented")
    response = crm.mass_update(body)
    code, message, details = expected
    assert response.status_code == 400
    assert response.json() == {"code": code, "details": details, "message": message, "status": "error"}


def test_deals_take_three_fields(crm: Crm) -> None:
    data = [{"Stage": "Closed Won", "Amount": 1500.5, "Competitors": ["Acme"]}]
    deal_id = crm.call("GET", "/crm/v8/Deals").json()["data"][0]["id"]
    entry = crm.mass_update({"data": data, "ids": [deal_id]}, module="Deals").json()["data"][0]
    assert entry["code"] == "SUCCESS"
    data[0]["Probability"] = 90
    entry = crm.mass_update({"data": data, "ids": [deal_id]}, module="Deals").json()["data"][0]
    assert (entry["code"], entry["message"]) == ("INVALID_DATA", "Max field limit exceeded")


def test_multi_select_appends_unless_over_write(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    (record_id,) = zoho_emulator.client.seed(ids=["222222222222222222"], fields={"Product_Interest": ["CRM"]})

    def update(values: list[str], **flags: bool) -> list[str]:
        body = {"data": [{"Product_Interest": values}], "ids": [record_id], **flags}
        assert crm.mass_update(body).json()["data"][0]["code"] == "SUCCESS"
        return zoho_emulator.client.records("Leads")[record_id]["Product_Interest"]

    assert update(["Mail", "CRM"]) == ["CRM", "Mail"]
    assert update(["Desk"], over_write=False) == ["CRM", "Mail", "Desk"]
    assert update(["Books"], over_write=True) == ["Books"]


def test_numeric_text_is_accepted_for_numbers(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    crm.mass_update({"data": [{"No_of_Employees": "75"}], "ids": [SEED_IDS[0]]})
    assert zoho_emulator.client.records("Leads")[SEED_IDS[0]]["No_of_Employees"] == 75


@pytest.mark.parametrize("version", ["v2", "v2.1", "v7", "v8"])
def test_every_version_segment_works(crm: Crm, version: str) -> None:
    response = crm.mass_update({"data": ONE_FIELD, "ids": [SEED_IDS[0]]}, version=version)
    assert response.json()["data"][0]["code"] == "SUCCESS"


def test_unknown_url_pattern_is_404(crm: Crm) -> None:
    for path in ("/crm/latest/Leads/actions/mass_update", "/crm/v8/Leads/actions/mass_convert", "/crm/v8/"):
        response = crm.call("POST", path, json_body={})
        assert (response.status_code, response.json()["code"]) == (404, "INVALID_URL_PATTERN"), path


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "COPY", "OPTIONS"])
def test_other_methods_are_invalid_request_method(crm: Crm, method: str) -> None:
    response = crm.call(method, "/crm/v8/Leads/actions/mass_update", json_body={"data": ONE_FIELD})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST_METHOD"
    assert response.headers["X-Frame-Options"] == "deny"


def test_records_lock_for_a_number_of_attempts(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    (record_id,) = zoho_emulator.client.seed(locked=["333333333333333333"], locked_for=2)
    body = {"data": ONE_FIELD, "ids": [record_id]}
    codes = [crm.mass_update(body).json()["data"][0]["code"] for _ in range(3)]
    assert codes == ["RECORD_LOCKED", "RECORD_LOCKED", "SUCCESS"]


@pytest.mark.parametrize(
    ("field", "raw_value"),
    [
        ("No_of_Employees", "NaN"),
        ("No_of_Employees", "Infinity"),
        ("Annual_Revenue", "-Infinity"),
        ("Annual_Revenue", "1" + "0" * 400),
    ],
)
def test_non_finite_numbers_are_invalid_data(
    crm: Crm, zoho_emulator: RunningEmulator, field: str, raw_value: str
) -> None:
    # raw JSON (requests refuses to encode NaN): Python's JSON parser accepts these literals
    body = f'{{"data": [{{"{field}": {raw_value}}}], "ids": ["{SEED_IDS[0]}"]}}'
    headers = {"Authorization": f"Zoho-oauthtoken {crm.token}", "Content-Type": "application/json"}
    response = requests.post(
        f"{crm.url}/crm/v8/Leads/actions/mass_update", data=body, headers=headers, timeout=10
    )
    assert response.status_code == 200
    (entry,) = response.json()["data"]
    assert (entry["code"], entry["details"]["api_name"]) == ("INVALID_DATA", field)
    assert zoho_emulator.client.counters()["records_changed"] == 0


def test_unknown_module_is_invalid_module_in_the_seed_shape(crm: Crm) -> None:
    response = crm.mass_update({"data": ONE_FIELD, "ids": [SEED_IDS[0]]}, module="Leadz")
    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "code": "INVALID_MODULE",
                "details": {"resource_path_index": 0},
                "message": "The module name given seems to be invalid",
                "status": "error",
            }
        ]
    }
