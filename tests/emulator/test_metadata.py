"""Metadata Zoho's SDK reads first: settings/modules, settings/fields, org, in the OAS's shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm, Validate


def test_modules_list_every_module_of_the_store(
    crm: Crm, zoho_emulator: RunningEmulator, oas: Validate
) -> None:
    zoho_emulator.client.define_fields("Projects_X", {"Stage_X": "picklist"})
    body = crm.call("GET", "/crm/v8/settings/modules").json()
    oas("modules.json#/components/schemas/Response_Wrapper", body)
    names = {m["api_name"]: m for m in body["modules"]}
    assert {"Leads", "Contacts", "Accounts", "Deals", "Projects_X"} <= set(names)
    assert all(m["api_supported"] for m in names.values())
    assert (names["Leads"]["generated_type"], names["Projects_X"]["generated_type"]) == ("default", "custom")


def test_fields_follow_the_field_specs(crm: Crm, zoho_emulator: RunningEmulator, oas: Validate) -> None:
    zoho_emulator.client.define_fields("Leads", {"Score_X": {"type": "integer", "mass_updatable": False}})
    response = crm.call("GET", "/crm/v8/settings/fields", params={"module": "Leads"})
    body = response.json()
    oas("fields.json#/components/schemas/Response_Wrapper", body)
    by_name = {f["api_name"]: f for f in body["fields"]}
    assert (by_name["No_of_Employees"]["data_type"], by_name["No_of_Employees"]["json_type"]) == (
        "integer",
        "integer",
    )
    assert by_name["No_of_Employees"]["mass_update"] is True
    assert by_name["Email"]["mass_update"] is False  # Zoho refuses email fields in a mass update
    assert by_name["Score_X"]["mass_update"] is False
    assert by_name["Product_Interest"]["json_type"] == "jsonarray"
    statuses = [v["display_value"] for v in by_name["Lead_Status"]["pick_list_values"]]
    assert "Contacted" in statuses
    # the ids are stable, as Zoho's are
    again = crm.call("GET", "/crm/v8/settings/fields", params={"module": "Leads"}).json()
    assert [f["id"] for f in again["fields"]] == [f["id"] for f in body["fields"]]


@pytest.mark.parametrize(
    ("params", "code"), [({}, "REQUIRED_PARAM_MISSING"), ({"module": "Leadz"}, "INVALID_MODULE")]
)
def test_fields_of_no_or_an_unknown_module_are_refused(crm: Crm, params: dict[str, str], code: str) -> None:
    response = crm.call("GET", "/crm/v8/settings/fields", params=params)
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_org_names_the_edition(crm: Crm, zoho_emulator: RunningEmulator, oas: Validate) -> None:
    zoho_emulator.client.configure(edition="professional")
    body = crm.call("GET", "/crm/v8/org").json()
    oas("org.json#/components/schemas/Response_Wrapper", body)
    (org,) = body["org"]
    assert org["license_details"]["paid_type"] == "professional"
    assert org["zgid"].isdigit()


def test_the_oas_check_of_metadata_is_not_vacuous(oas: Validate) -> None:
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        oas("fields.json#/components/schemas/Response_Wrapper", {"fields": [{"mass_update": "yes"}]})
    with pytest.raises(jsonschema.ValidationError):
        oas("modules.json#/components/schemas/Response_Wrapper", {"modules": [{"generated_type": "alien"}]})
