"""The admin API: reset, settings, seeding, field definitions, request log and counters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_crm_provider.testing.client import EmulatorAdminError
from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID, NOT_APPROVED_ID, SEED_IDS

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm


def test_reset_restores_defaults_and_applies_overrides(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    client.configure(latency_jitter=0.5)
    crm.mass_update({"data": [{"City": "Porto"}], "ids": [SEED_IDS[0]]})
    config = client.reset(error_shape="documented")
    assert (config["error_shape"], config["latency_jitter"]) == ("documented", 0.0)
    assert client.log() == []
    assert client.counters()["requests"] == {}
    assert client.records("Leads")[SEED_IDS[0]]["City"] != "Porto"
    assert crm.call("GET", "/crm/v8/users").json()["code"] == "INVALID_TOKEN"
    assert len(client.records()) == 24


def test_bad_settings_are_refused_with_a_reason(zoho_emulator: RunningEmulator) -> None:
    with pytest.raises(EmulatorAdminError, match="unknown emulator settings \\['latencyy'\\]"):
        zoho_emulator.client.configure(latencyy=1)
    with pytest.raises(EmulatorAdminError, match="rate_429 must be a probability"):
        zoho_emulator.client.reset(rate_429=2)
    with pytest.raises(EmulatorAdminError, match="error_shape must be one of"):
        zoho_emulator.client.configure(error_shape="pretty")
    assert zoho_emulator.client.config()["error_shape"] == "seed"


def test_seed_creates_marks_and_groups_records(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    ids = client.seed(
        count=2,
        ids=["444444444444444444"],
        not_approved=["555555555555555555"],
        fields={"Rating": "Active"},
        custom_views={"1000000000000000007": ["444444444444444444"]},
    )
    assert ids[:2] == ["444444444444444444", "555555555555555555"]
    assert len(ids) == 4
    assert all(i.isdigit() and len(i) == 18 for i in ids)
    records = client.records()
    assert all(records[i]["Rating"] == "Active" for i in ids)
    codes = [e["code"] for e in crm.mass_update({"data": [{"City": "Oslo"}], "ids": ids}).json()["data"]]
    assert codes == ["SUCCESS", "NOT_APPROVED", "SUCCESS", "SUCCESS"]
    assert client.record("Leads", ids[0]) == client.records()[ids[0]]
    assert client.record("Leads", "666666666666666666") is None
    assert client.record("Nope", "666666666666666666") is None


def test_seed_rejects_bad_arguments(zoho_emulator: RunningEmulator) -> None:
    with pytest.raises(EmulatorAdminError, match="ids must be a list of record id strings"):
        zoho_emulator.client.seed(ids=[123])  # type: ignore[list-item]


def test_fields_and_modules_can_be_defined(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    client = zoho_emulator.client
    specs = {"Rank": "integer", "Notes": "textarea", "Code": {"type": "text", "unique": True}}
    fields = client.define_fields("Vendors", specs, max_fields=2)
    assert fields == {
        "Rank": {"type": "integer", "mass_updatable": True, "unique": False},
        "Notes": {"type": "textarea", "mass_updatable": False, "unique": False},
        "Code": {"type": "text", "mass_updatable": True, "unique": True},
    }
    (vendor,) = client.seed("Vendors", count=1)
    entry = crm.mass_update({"data": [{"Rank": 3}], "ids": [vendor]}, module="Vendors").json()["data"][0]
    assert entry["code"] == "SUCCESS"
    assert client.records("Vendors")[vendor]["Rank"] == 3


def test_the_log_shows_what_the_client_sent(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    body = {"data": [{"City": "Porto"}], "ids": [SEED_IDS[0]]}
    crm.mass_update(body, scheme="Bearer")
    token_request, update = zoho_emulator.client.log()
    assert (token_request["method"], token_request["path"], token_request["status"]) == (
        "POST",
        "/oauth/v2/token",
        200,
    )
    assert token_request["body"]["grant_type"] == "refresh_token"
    assert (update["method"], update["path"], update["status"]) == (
        "POST",
        "/crm/v8/Leads/actions/mass_update",
        200,
    )
    assert update["headers"]["authorization"] == f"Bearer {crm.token}"
    assert update["body"] == body
    assert update["query"] == {}


def test_counters_count_each_endpoint(crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(job_duration=0)
    crm.mass_update({"data": [{"City": "Porto"}], "ids": list(SEED_IDS)})
    job_id = crm.mass_update({"data": [{"City": "Lyon"}], "cvid": LEADS_VIEW_ID}).json()["data"][0][
        "details"
    ]["job_id"]
    crm.status(job_id)
    crm.call("GET", "/crm/v8/Leads", params={"ids": NOT_APPROVED_ID})
    counters = zoho_emulator.client.counters()
    assert counters["tokens_minted"] == 1
    assert (counters["mass_update_posts"], counters["status_gets"], counters["record_gets"]) == (2, 1, 1)
    assert counters["records_changed"] == 2 + 22
    assert counters["max_in_flight"] == 1
    assert counters["requests"]["POST /crm/v8/Leads/actions/mass_update"] == 2


def test_issued_token_ttl_must_be_positive(zoho_emulator: RunningEmulator) -> None:
    for ttl in (0, -1, True):
        with pytest.raises(EmulatorAdminError, match="ttl must be a number of seconds > 0"):
            zoho_emulator.client.issue_token(ttl=ttl)


@pytest.mark.parametrize(
    ("fields", "max_fields", "reason"),
    [
        ({"Rank": 5}, None, "field 'Rank' needs a data type, got 5"),
        ({"Rank": {"mass_updatable": True}}, None, "field 'Rank' needs a data type"),
        ({"Rank": {"type": "integer", "mass_updatable": "yes"}}, None, "must be true or false"),
        ({"Rank": "integer"}, 0, "max_fields must be an integer >= 1, got 0"),
    ],
)
def test_bad_field_definitions_are_refused_and_change_nothing(
    zoho_emulator: RunningEmulator, fields: dict[str, object], max_fields: int | None, reason: str
) -> None:
    with pytest.raises(EmulatorAdminError, match=reason) as caught:
        zoho_emulator.client.define_fields("Vendors", fields, max_fields=max_fields)
    assert caught.value.status == 400
    assert zoho_emulator.client.record("Vendors", "1") is None  # the module was not created
    with pytest.raises(EmulatorAdminError, match="no module 'Vendors'"):
        zoho_emulator.client.records("Vendors")
