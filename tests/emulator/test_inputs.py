"""Inputs Zoho treats in its own way: API versions, several data[] objects, ids with cvid, criteria."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID, SEED_IDS

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm

BAD_URL = {
    "code": "INVALID_URL_PATTERN",
    "details": {},
    "message": "Please check if the URL trying to access is a correct one",
    "status": "error",
}


@pytest.mark.parametrize("version", ["v1", "v99", "v8.1", "v0"])
def test_unknown_api_versions_are_unknown_urls(
    crm: Crm, zoho_emulator: RunningEmulator, version: str
) -> None:
    response = crm.mass_update({"data": [{"City": "Porto"}], "ids": [SEED_IDS[0]]}, version=version)
    assert (response.status_code, response.json()) == (404, BAD_URL)
    assert crm.call("GET", f"/crm/{version}/users").status_code == 404
    assert zoho_emulator.client.counters()["records_changed"] == 0


@pytest.mark.parametrize("version", ["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"])
def test_every_zoho_version_is_served(crm: Crm, version: str) -> None:
    response = crm.mass_update({"data": [{"City": "Porto"}], "ids": [SEED_IDS[0]]}, version=version)
    assert response.json()["data"][0]["code"] == "SUCCESS"


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            {"data": [{"City": "Porto"}, {"City": "Lyon"}], "ids": [SEED_IDS[0]]},
            {"api_name": "data", "json_path": "$.data", "limit": 1},
        ),
        (
            {"data": [{"City": "Porto"}], "ids": [SEED_IDS[0]], "cvid": LEADS_VIEW_ID},
            {"api_name": "cvid", "json_path": "$.cvid", "reason": "give either ids or cvid, not both"},
        ),
        (
            {"data": [{"City": "Porto"}], "ids": [SEED_IDS[0]], "territory": {"id": "1"}},
            {
                "api_name": "territory",
                "json_path": "$.territory",
                "reason": "give either ids or cvid, not both",
            },
        ),
        (
            {
                "data": [{"City": "Porto"}],
                "ids": [SEED_IDS[0]],
                "criteria": [{"field": "City", "comparator": "equal", "value": "x"}],
            },
            {"api_name": "criteria", "json_path": "$.criteria", "reason": "criteria filters a cvid"},
        ),
    ],
)
@pytest.mark.parametrize("shape", ["seed", "documented"])
def test_ambiguous_bodies_are_refused(
    crm: Crm, zoho_emulator: RunningEmulator, body: dict[str, Any], details: dict[str, Any], shape: str
) -> None:
    zoho_emulator.client.configure(error_shape=shape)
    response = crm.mass_update(body)
    payload = response.json()
    entry = payload["data"][0] if shape == "seed" else payload
    assert response.status_code == (200 if shape == "seed" else 400)
    assert entry == {"code": "INVALID_DATA", "details": details, "message": "invalid data", "status": "error"}
    assert zoho_emulator.client.counters()["records_changed"] == 0
    assert zoho_emulator.client.counters()["jobs_scheduled"] == 0


def _job(crm: Crm, zoho_emulator: RunningEmulator, criteria: Any, cvid: str = "555") -> set[str]:
    """Run a job over the view with ``criteria`` and return the ids it updated."""
    client = zoho_emulator.client
    client.configure(job_duration=0)
    response = crm.mass_update({"data": [{"Country": "Atlantis"}], "cvid": cvid, "criteria": criteria})
    entry = response.json()["data"][0]
    assert entry["code"] == "SUCCESS", entry
    status = crm.status(entry["details"]["job_id"]).json()["data"][0]
    changed = {i for i, r in client.records().items() if r["Country"] == "Atlantis"}
    assert status["Total_Count"] == status["Updated_Count"] == len(changed)
    return changed


@pytest.fixture
def view(zoho_emulator: RunningEmulator) -> list[str]:
    """Six Leads in view 555: cities Oslo/Lyon/Oslo..., employees 10, 20, ... 60, none in Atlantis."""
    client = zoho_emulator.client
    ids = [f"73896400000900000{n}" for n in range(6)]
    for n, record_id in enumerate(ids):
        city = "Oslo" if n % 2 == 0 else "Lyon"
        client.seed(ids=[record_id], fields={"City": city, "No_of_Employees": 10 * (n + 1)})
    client.seed(custom_views={"555": ids})
    return ids


@pytest.mark.parametrize(
    ("criteria", "picked"),
    [
        ({"field": {"api_name": "City"}, "comparator": "equal", "value": "oslo"}, {0, 2, 4}),
        ([{"field": "City", "comparator": "not_equal", "value": "Oslo"}], {1, 3, 5}),
        ({"field": "No_of_Employees", "comparator": "greater_than", "value": 40}, {4, 5}),
        ({"field": "No_of_Employees", "comparator": "between", "value": [20, 30]}, {1, 2}),
        ({"field": "City", "comparator": "starts_with", "value": "ly"}, {1, 3, 5}),
        (
            {
                "group_operator": "or",
                "group": [
                    {"field": "No_of_Employees", "comparator": "less_equal", "value": 10},
                    {
                        "group_operator": "and",
                        "group": [
                            {"field": "City", "comparator": "in", "value": ["Lyon"]},
                            {"field": "No_of_Employees", "comparator": "greater_equal", "value": 60},
                        ],
                    },
                ],
            },
            {0, 5},
        ),
    ],
)
def test_criteria_filter_the_views_records(
    crm: Crm, zoho_emulator: RunningEmulator, view: list[str], criteria: Any, picked: set[int]
) -> None:
    assert _job(crm, zoho_emulator, criteria) == {view[n] for n in picked}


@pytest.mark.parametrize(
    ("criteria", "reason"),
    [
        ({"field": "Nope", "comparator": "equal", "value": 1}, "unknown field 'Nope' in criteria"),
        ({"field": "City", "comparator": "like", "value": 1}, "unknown comparator 'like'"),
        ({"field": "City", "comparator": "in", "value": "Oslo"}, "comparator in needs a list value"),
        ([], "criteria is an empty list"),
        ("City = Oslo", "a criterion must be an object"),
        ({"group_operator": "xor", "group": []}, "a group needs group_operator"),
    ],
)
def test_bad_criteria_are_refused_clearly(
    crm: Crm, zoho_emulator: RunningEmulator, view: list[str], criteria: Any, reason: str
) -> None:
    response = crm.mass_update({"data": [{"City": "Porto"}], "cvid": "555", "criteria": criteria})
    (entry,) = response.json()["data"]
    assert entry["code"] == "INVALID_DATA"
    assert entry["details"]["reason"].startswith(reason)
    assert zoho_emulator.client.counters()["jobs_scheduled"] == 0


def test_criteria_matching_nothing_is_no_records_found(crm: Crm, view: list[str]) -> None:
    criteria = {"field": "City", "comparator": "equal", "value": "Atlantis"}
    response = crm.mass_update({"data": [{"City": "Porto"}], "cvid": "555", "criteria": criteria})
    assert response.json()["data"][0]["code"] == "NO_RECORDS_FOUND"


def test_criteria_nested_too_deep_are_refused(crm: Crm, view: list[str]) -> None:
    criteria: Any = {"field": "City", "comparator": "equal", "value": "Oslo"}
    for _ in range(50):
        criteria = {"group_operator": "and", "group": [criteria]}
    response = crm.mass_update({"data": [{"City": "Porto"}], "cvid": "555", "criteria": criteria})
    assert response.json()["data"][0]["details"]["reason"] == "criteria nest more than 5 groups deep"
