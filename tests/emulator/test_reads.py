"""Record and user reads, as the hook's get_records and test_connection use them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_crm_provider.testing.emulator import CURRENT_USER, SEED_IDS

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm


def test_reading_records_by_ids_and_fields(crm: Crm) -> None:
    params = {"ids": f"{SEED_IDS[1]},999999999999999999,{SEED_IDS[0]}", "fields": "City,No_of_Employees"}
    response = crm.call("GET", "/crm/v8/Leads", params=params)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    data = response.json()["data"]
    assert [r["id"] for r in data] == [SEED_IDS[1], SEED_IDS[0]]
    assert all(set(r) == {"id", "City", "No_of_Employees"} for r in data)
    assert response.json()["info"]["count"] == 2


def test_no_existing_id_gives_204_without_body(crm: Crm) -> None:
    response = crm.call("GET", "/crm/v2/Leads", params={"ids": "999999999999999999", "fields": "City"})
    assert (response.status_code, response.content) == (204, b"")


def test_at_most_100_ids_per_read(crm: Crm) -> None:
    ids = ",".join(str(10**17 + i) for i in range(101))
    response = crm.call("GET", "/crm/v8/Leads", params={"ids": ids, "fields": "City"})
    assert (response.status_code, response.json()["code"]) == (400, "LIMIT_EXCEEDED")


def test_listing_pages_through_all_records(crm: Crm) -> None:
    first = crm.call("GET", "/crm/v8/Leads", params={"per_page": "20", "fields": "City"}).json()
    second = crm.call("GET", "/crm/v8/Leads", params={"per_page": "20", "page": "2"}).json()
    assert (len(first["data"]), first["info"]["more_records"]) == (20, True)
    assert (len(second["data"]), second["info"]["more_records"]) == (4, False)


def test_reading_one_record(crm: Crm) -> None:
    record = crm.call("GET", f"/crm/v8/Leads/{SEED_IDS[0]}").json()["data"][0]
    assert record["id"] == SEED_IDS[0]
    assert record["Created_Time"] == "2021-05-07T06:23:10+00:00"
    assert record["Modified_By"] == CURRENT_USER
    assert isinstance(record["Product_Interest"], list)
    assert crm.call("GET", "/crm/v8/Leads/999999999999999999").status_code == 204


def test_current_user(crm: Crm) -> None:
    response = crm.call("GET", "/crm/v8/users", params={"type": "CurrentUser"})
    (user,) = response.json()["users"]
    assert (user["id"], user["full_name"]) == (CURRENT_USER["id"], CURRENT_USER["name"])
    assert "X-ACCESSTOKEN-RESET" in response.headers
    assert crm.call("GET", "/crm/v8/users", params={"type": "Nobody"}).status_code == 400


def test_unknown_module_and_unsupported_method(crm: Crm) -> None:
    response = crm.call("GET", "/crm/v8/Leadz", params={"ids": SEED_IDS[0]})
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_MODULE")
    response = crm.call("DELETE", "/crm/v8/Leads", params={"ids": SEED_IDS[0]})
    assert (response.status_code, response.json()["code"]) == (400, "NOT_SUPPORTED")


def test_reads_are_counted(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    crm.call("GET", "/crm/v8/Leads", params={"ids": SEED_IDS[0]})
    crm.call("GET", f"/crm/v8/Leads/{SEED_IDS[0]}")
    crm.call("GET", "/crm/v8/users")
    counters = zoho_emulator.client.counters()
    assert (counters["record_gets"], counters["mass_update_posts"]) == (2, 0)
    assert counters["requests"][f"GET /crm/v8/Leads/{SEED_IDS[0]}"] == 1
