"""Update Records and Upsert under the org's limits: credits per 10 records, heavy pool, faults, scopes."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
import requests

from airflow_crm_provider.testing.emulator import SEED_IDS

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm, Validate


def _rows(zoho_emulator: RunningEmulator, count: int, city: str = "Oslo") -> list[dict[str, Any]]:
    return [{"id": i, "City": city} for i in zoho_emulator.client.seed("Leads", count=count)]


@pytest.mark.parametrize(("records", "credits"), [(1, 1), (10, 1), (11, 2), (25, 3), (100, 10)])
def test_a_write_costs_one_credit_per_ten_records(
    crm: Crm, zoho_emulator: RunningEmulator, records: int, credits: int
) -> None:
    client = zoho_emulator.client
    rows = _rows(zoho_emulator, records)
    client.configure(credit_budget=1000)
    crm.update({"data": rows})
    assert client.credits()["used"] == credits
    crm.upsert({"data": [{**r, "City": "Lyon"} for r in rows]})
    assert client.credits()["used"] == 2 * credits


def test_a_write_past_the_budget_is_refused_whole(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    rows = _rows(zoho_emulator, 30)
    client.configure(credit_budget=10)
    client.set_credits_used(8)
    refused = crm.update({"data": rows})  # costs 3, 2 are left
    assert (refused.status_code, refused.json()["code"]) == (429, "TOO_MANY_REQUESTS")
    assert refused.json()["message"] == "API request limit exceeded for the past 24 hours"
    assert client.counters()["records_changed"] == 0
    assert crm.update({"data": rows[:20]}).status_code == 200  # costs 2: exactly what is left
    assert client.credits()["remaining"] == 0


def _fire(crm: Crm, bodies: list[tuple[str, Any]]) -> list[requests.Response]:
    """Send ``(path, body)`` calls at the same instant, each on its own connection."""
    barrier = threading.Barrier(len(bodies))
    headers = {"Authorization": f"Zoho-oauthtoken {crm.token}"}

    def one(call: tuple[str, Any]) -> requests.Response:
        path, body = call
        barrier.wait()
        method = "POST" if path.endswith("upsert") else "PUT"
        return requests.request(method, crm.url + path, json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


def test_writes_of_more_than_ten_records_meet_the_heavy_sub_limit(
    crm: Crm, zoho_emulator: RunningEmulator
) -> None:
    big = {"data": _rows(zoho_emulator, 11)}
    small = {"data": _rows(zoho_emulator, 10)}
    zoho_emulator.client.configure(latency=0.5, concurrency_limit=8, heavy_concurrency_limit=2)
    calls = [("/crm/v8/Leads", big)] * 2 + [("/crm/v8/Leads/upsert", big)] + [("/crm/v8/Leads", small)] * 3
    answers = _fire(crm, calls)
    assert sorted(a.status_code for a in answers[:3]) == [200, 200, 429]
    assert [a.status_code for a in answers[3:]] == [200, 200, 200]  # ten records are not heavy
    counters = zoho_emulator.client.counters()
    assert (counters["max_heavy_in_flight"], counters["max_in_flight"]) == (2, 5)


def test_a_lost_reply_still_applies_the_update(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.configure(lose_replies=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        crm.update({"data": [{"id": SEED_IDS[0], "City": "Porto"}]})
    assert client.record("Leads", SEED_IDS[0])["City"] == "Porto"
    (entry,) = [e for e in client.log() if e["method"] == "PUT"]
    assert (entry["status"], entry["body"]) == (None, {"data": [{"id": SEED_IDS[0], "City": "Porto"}]})
    assert client.counters()["lost_replies"] == 1


def test_a_lost_upsert_reply_still_inserts(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.configure(lose_replies=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        crm.upsert({"data": [{"Last_Name": "Lost", "Email": "lost@example.com"}]})
    assert [r for r in client.records().values() if r["Email"] == "lost@example.com"]
    assert client.counters()["records_inserted"] == 1


@pytest.mark.parametrize(
    ("setting", "status"), [({"burst_5xx": 1}, 500), ({"burst_429": 1}, 429), ({"drop_connections": 1}, None)]
)
def test_faults_before_the_handler_change_nothing(
    crm: Crm, zoho_emulator: RunningEmulator, setting: dict[str, int], status: int | None
) -> None:
    client = zoho_emulator.client
    client.configure(**setting)
    for send in (
        lambda: crm.update({"data": [{"id": SEED_IDS[0], "City": "Porto"}]}),
        lambda: crm.upsert({"data": [{"Last_Name": "Faulty", "Email": "faulty@example.com"}]}),
    ):
        client.configure(**setting)
        try:
            assert send().status_code == status
        except requests.exceptions.ConnectionError:
            assert status is None
    assert client.record("Leads", SEED_IDS[0])["City"] != "Porto"
    counters = client.counters()
    assert (counters["records_changed"], counters["records_inserted"]) == (0, 0)
    assert [e["status"] for e in client.log() if e["path"].startswith("/crm/v8/Leads")] == [status, status]


def test_latency_applies_to_writes(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    import time

    zoho_emulator.client.configure(latency=0.3)
    started = time.monotonic()
    crm.update({"data": [{"id": SEED_IDS[0], "City": "Porto"}]})
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("scopes", "update_ok", "upsert_ok"),
    [
        (["ZohoCRM.modules.leads.READ"], False, False),
        (["ZohoCRM.modules.leads.UPDATE"], True, False),
        (["ZohoCRM.modules.leads.CREATE"], False, True),
        (["ZohoCRM.modules.leads.WRITE"], True, True),
        (["ZohoCRM.modules.ALL"], True, True),
        (["ZohoCRM.mass_update.ALL"], False, False),
    ],
)
def test_the_scopes_of_update_and_upsert(
    crm: Crm, zoho_emulator: RunningEmulator, scopes: list[str], update_ok: bool, upsert_ok: bool
) -> None:
    token = zoho_emulator.client.issue_token(scopes=scopes)
    update = crm.update({"data": [{"id": SEED_IDS[0], "City": "Porto"}]}, token=token)
    upsert = crm.upsert({"data": [{"id": SEED_IDS[0], "City": "Lyon"}]}, token=token)
    for response, ok in ((update, update_ok), (upsert, upsert_ok)):
        assert (response.status_code == 200) is ok
        if not ok:
            assert (response.status_code, response.json()["code"]) == (401, "OAUTH_SCOPE_MISMATCH")


def test_refusals_target_update_and_upsert(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.refuse("NO_PERMISSION", operation="update", times=1)
    client.refuse("CANNOT_PERFORM_ACTION", operation="upsert", times=1)
    assert crm.call("GET", f"/crm/v8/Leads/{SEED_IDS[0]}").status_code == 200  # reads are not updates
    refused = crm.update({"data": [{"id": SEED_IDS[0], "City": "Porto"}]}, record_id=SEED_IDS[0])
    assert (refused.status_code, refused.json()["code"]) == (403, "NO_PERMISSION")
    upsert = crm.upsert({"data": [{"id": SEED_IDS[0], "City": "Porto"}]})
    assert (upsert.status_code, upsert.json()["code"]) == (400, "CANNOT_PERFORM_ACTION")
    assert crm.update({"data": [{"id": SEED_IDS[0], "City": "Porto"}]}).status_code == 200
    assert client.counters()["refusals_answered"] == 2


def _fits(oas: Validate, body: dict[str, Any]) -> None:
    for entry in body["data"]:
        schema = "Success_Response" if entry["status"] == "success" else "API_Exception"
        if "action" in entry and entry["duplicate_field"] is None:
            # Zoho's docs sample an insert with "duplicate_field": null; the OAS types it a string
            entry = {k: v for k, v in entry.items() if k != "duplicate_field"}
        oas(f"record.json#/components/schemas/{schema}", entry)


def test_entries_fit_the_spec(oas: Validate, crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.define_fields("Leads", {"Tax_Id": {"type": "text", "unique": True}})
    zoho_emulator.client.seed("Leads", ids=[SEED_IDS[0]], fields={"Tax_Id": "T-1"})
    rows = [
        {"id": SEED_IDS[1], "City": "Oslo"},
        {"id": "738964999999999999", "City": "Oslo"},
        {"City": "Oslo"},
        {"id": SEED_IDS[1], "Tax_Id": "T-1"},
        {"id": SEED_IDS[1], "No_of_Employees": "many"},
    ]
    _fits(oas, crm.update({"data": rows}).json())
    _fits(oas, crm.update({"data": [{"City": "Lyon"}]}, record_id=SEED_IDS[1]).json())
    upserted = crm.upsert(
        {"data": [{"Last_Name": "New", "Email": "n@example.com"}, {"id": SEED_IDS[1]}]}
    ).json()
    assert [(e["action"], e["duplicate_field"]) for e in upserted["data"]] == [
        ("insert", None),
        ("update", None),
    ]
    _fits(oas, upserted)
    oas("record.json#/components/schemas/API_Exception", crm.update({"data": []}).json())  # bare
    with pytest.raises(jsonschema.ValidationError):  # the check can fail: an action Zoho does not have
        _fits(oas, {"data": [{**upserted["data"][0], "action": "merge"}]})
