"""Mass update in cvid/territory mode: jobs, their progress, and the view-level errors."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator import (
    EMPTY_VIEW_ID,
    LEADS_VIEW_ID,
    LOCKED_ID,
    NOT_APPROVED_ID,
    SEED_IDS,
    TERRITORY_ID,
    admin,
)
from airflow_crm_provider.testing.emulator.state import EmulatorState

if TYPE_CHECKING:
    import pytest

    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm

DATA = [{"Lead_Status": "Contacted"}]
ORDER = ["SCHEDULED", "RUNNING", "COMPLETED"]


def _schedule(crm: Crm, body: dict[str, Any]) -> str:
    response = crm.mass_update(body)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["data"]
    assert (entry["code"], entry["message"]) == ("SUCCESS", "mass update scheduled successfully")
    return str(entry["details"]["job_id"])


def _poll_until_done(crm: Crm, job_id: str) -> list[dict[str, Any]]:
    """Poll every 20 ms until the job ends; return every status seen (gives up after 30 s)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen.append(crm.status(job_id).json()["data"][0])
        if seen[-1]["Status"] in ("COMPLETED", "FAILED"):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never finished: {seen[-1]}")


def test_a_job_goes_scheduled_running_completed(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(job_duration=1.0)
    job_id = _schedule(crm, {"data": DATA, "cvid": LEADS_VIEW_ID})
    assert len(job_id) == 18
    assert job_id.isdigit()
    seen = _poll_until_done(crm, job_id)
    assert list(dict.fromkeys(s["Status"] for s in seen)) == ORDER
    assert seen[0] == {
        "Status": "SCHEDULED",
        "Failed_Count": 0,
        "Updated_Count": 0,
        "Not_Updated_Count": 22,
        "Total_Count": 22,
    }
    assert all(s["Updated_Count"] + s["Failed_Count"] + s["Not_Updated_Count"] == 22 for s in seen)
    updated = [s["Updated_Count"] for s in seen]
    assert updated == sorted(updated)
    assert any(0 < s["Updated_Count"] < 22 for s in seen if s["Status"] == "RUNNING")
    assert seen[-1]["Updated_Count"] == 22
    records = zoho_emulator.client.records()
    assert all(records[i]["Lead_Status"] == "Contacted" for i in SEED_IDS)
    counters = zoho_emulator.client.counters()
    assert (counters["jobs_scheduled"], counters["records_changed"]) == (1, 22)
    assert counters["status_gets"] == len(seen)


def test_blocked_records_count_as_failed(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(job_duration=0)
    zoho_emulator.client.seed(custom_views={"1000000000000000001": [SEED_IDS[0], NOT_APPROVED_ID, LOCKED_ID]})
    job_id = _schedule(crm, {"data": DATA, "cvid": "1000000000000000001"})
    status = crm.status(job_id).json()["data"][0]
    assert status == {
        "Status": "COMPLETED",
        "Failed_Count": 2,
        "Updated_Count": 1,
        "Not_Updated_Count": 0,
        "Total_Count": 3,
    }


def test_a_failing_job_ends_failed_and_changes_nothing(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(job_duration=0, fail_jobs=True)
    before = zoho_emulator.client.records()
    job_id = _schedule(crm, {"data": DATA, "cvid": LEADS_VIEW_ID})
    status = crm.status(job_id).json()["data"][0]
    assert (status["Status"], status["Failed_Count"], status["Updated_Count"]) == ("FAILED", 22, 0)
    assert zoho_emulator.client.records() == before


def test_already_scheduled_while_a_job_runs_for_the_view(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(job_duration=0.5)
    job_id = _schedule(crm, {"data": DATA, "cvid": LEADS_VIEW_ID})
    again = crm.mass_update({"data": [{"Rating": "Active"}], "cvid": LEADS_VIEW_ID})
    assert again.status_code == 202
    assert again.json() == {
        "data": [
            {
                "code": "ALREADY_SCHEDULED",
                "details": {},
                "message": "Already a Mass Action scheduler is running for the given cvid",
                "status": "error",
            }
        ]
    }
    zoho_emulator.client.configure(error_shape="documented")
    again = crm.mass_update({"data": DATA, "cvid": LEADS_VIEW_ID})
    assert (again.status_code, again.json()["code"]) == (202, "ALREADY_SCHEDULED")
    _poll_until_done(crm, job_id)
    _schedule(crm, {"data": DATA, "cvid": LEADS_VIEW_ID})


def test_an_empty_view_has_no_records_found(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    response = crm.mass_update({"data": DATA, "cvid": EMPTY_VIEW_ID})
    assert (response.status_code, response.json()["data"][0]["code"]) == (200, "NO_RECORDS_FOUND")
    zoho_emulator.client.configure(error_shape="documented")
    response = crm.mass_update({"data": DATA, "cvid": EMPTY_VIEW_ID})
    assert response.status_code == 400
    assert response.json() == {
        "code": "NO_RECORDS_FOUND",
        "details": {},
        "message": "no record found to update",
        "status": "error",
    }


def test_a_territory_narrows_the_view(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(job_duration=0)
    body = {"data": DATA, "cvid": LEADS_VIEW_ID, "territory": {"id": TERRITORY_ID, "include_child": False}}
    status = crm.status(_schedule(crm, body)).json()["data"][0]
    assert (status["Status"], status["Total_Count"], status["Updated_Count"]) == ("COMPLETED", 11, 11)


def test_unknown_view_or_territory_is_invalid_data(crm: Crm) -> None:
    for body, api_name in [
        ({"data": DATA, "cvid": "1999999999999999999"}, "cvid"),
        ({"data": DATA, "cvid": LEADS_VIEW_ID, "territory": {"id": "1"}}, "territory"),
        ({"data": DATA, "territory": {"id": TERRITORY_ID}}, "cvid"),
    ]:
        entry = crm.mass_update(body).json()["data"][0]
        assert entry["code"] in ("INVALID_DATA", "MANDATORY_NOT_FOUND")
        assert entry["details"]["api_name"] == api_name


def test_status_of_unknown_or_missing_job(crm: Crm) -> None:
    response = crm.status("738964000009999999")
    assert response.status_code == 404
    assert response.json() == {
        "code": "NOT_FOUND",
        "details": {},
        "message": "Empty response",
        "status": "error",
    }
    response = crm.call("GET", "/crm/v8/Leads/actions/mass_update")
    assert (response.status_code, response.json()["code"]) == (400, "MANDATORY_NOT_FOUND")
    response = crm.status("738964000009999999", module="Nope")
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_MODULE")


def test_jobs_are_listed_by_the_admin_api(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(job_duration=0)
    job_id = _schedule(crm, {"data": DATA, "cvid": LEADS_VIEW_ID})
    (job,) = zoho_emulator.client.jobs()
    assert (job["job_id"], job["cvid"], job["Status"]) == (job_id, LEADS_VIEW_ID, "COMPLETED")


def test_a_view_over_50000_records_is_limit_exceeded(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    ids = [str(700000000000000000 + i) for i in range(50_001)]
    zoho_emulator.client.seed(ids=ids, custom_views={"1000000000000000050": ids})
    response = crm.mass_update({"data": DATA, "cvid": "1000000000000000050"})
    assert response.status_code == 200
    assert response.json()["data"] == [
        {
            "code": "LIMIT_EXCEEDED",
            "details": {"limit": 50_000},
            "message": "Record count exceeded",
            "status": "error",
        }
    ]
    assert zoho_emulator.client.counters()["jobs_scheduled"] == 0


async def test_admin_job_counts_match_the_status_they_report(monkeypatch: pytest.MonkeyPatch) -> None:
    state = EmulatorState()
    record_ids = list(SEED_IDS)
    state.jobs.create(
        module="Leads",
        cvid=LEADS_VIEW_ID,
        record_ids=record_ids,
        values={"Lead_Status": "Contacted"},
        over_write=False,
        started=1000.0,
        duration=10.0,
        fail=False,
    )
    state.advance_jobs(1001.0)  # still SCHEDULED, nothing processed yet
    monkeypatch.setattr(admin, "time", SimpleNamespace(time=lambda: 1010.0))  # the job has ended since
    (job,) = await admin.jobs(None, state)  # type: ignore[arg-type]
    assert (job["Status"], job["Updated_Count"], job["Not_Updated_Count"]) == ("COMPLETED", 2, 0)
