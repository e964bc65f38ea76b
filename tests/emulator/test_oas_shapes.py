"""Mass update requests and responses checked against Zoho's OpenAPI spec (where it describes them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from airflow_crm_provider.testing.emulator import EMPTY_VIEW_ID, LEADS_VIEW_ID, SEED_IDS

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator
    from tests.emulator.conftest import Crm, Validate


MU = "mass_update.json#/components"
IDS_BODY = {"data": [{"No_of_Employees": 1000}], "over_write": True, "ids": list(SEED_IDS)}
CV_BODY = {"data": [{"Lead_Status": "Contacted"}], "cvid": LEADS_VIEW_ID}
#: Request-level errors: (body, expected code).
REQUEST_ERRORS = [
    ({"data": [{}], "ids": list(SEED_IDS)}, "INVALID_DATA"),
    ({"data": [{"No_of_Employees1": 1000}], "ids": list(SEED_IDS)}, "INVALID_DATA"),
    ({"data": [{"No_of_Employees": 1000}]}, "MANDATORY_NOT_FOUND"),
    ({"data": [{"Lead_Status": "Contacted"}], "cvid": EMPTY_VIEW_ID}, "NO_RECORDS_FOUND"),
]
ERROR_SCHEMA = f"{MU}/responses/ErrorResponse/content/application~1json/schema"


def test_the_request_bodies_fit_the_spec(oas: Validate) -> None:
    oas(f"{MU}/requestBodies/IDSBody/content/application~1json/schema", IDS_BODY)
    oas(f"{MU}/requestBodies/CVBody/content/application~1json/schema", CV_BODY)


def test_ids_mode_success_fits_the_spec(oas: Validate, crm: Crm) -> None:
    response = crm.mass_update(IDS_BODY)
    oas(f"{MU}/responses/SuccessResponse/content/application~1json/schema", response.json())


def test_job_mode_answer_and_status_fit_the_spec(oas: Validate, crm: Crm) -> None:
    entry = crm.mass_update(CV_BODY).json()["data"][0]
    # the spec wraps CVSuccess in an object where Zoho sends a one-element list: check the element
    oas(f"{MU}/schemas/CVSuccess", entry)
    status = crm.status(entry["details"]["job_id"]).json()["data"][0]
    # mass_update.json leaves the status schema empty; record.json describes it
    oas("record.json#/components/schemas/Mass_Update", status)
    assert set(status) == {"Status", "Total_Count", "Updated_Count", "Failed_Count", "Not_Updated_Count"}


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
def test_documented_error_shape_fits_the_spec(
    oas: Validate, crm: Crm, zoho_emulator: RunningEmulator, body: dict[str, Any], code: str
) -> None:
    zoho_emulator.client.configure(error_shape="documented")
    response = crm.mass_update(body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    oas(ERROR_SCHEMA, response.json())


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
def test_seed_error_shape_entries_fit_the_spec(
    oas: Validate, crm: Crm, body: dict[str, Any], code: str
) -> None:
    response = crm.mass_update(body)
    assert response.status_code == 200
    (entry,) = response.json()["data"]
    assert entry["code"] == code
    assert "id" not in entry["details"]
    oas(ERROR_SCHEMA, entry)


def test_invalid_module_fits_the_spec(oas: Validate, crm: Crm, zoho_emulator: RunningEmulator) -> None:
    zoho_emulator.client.configure(error_shape="documented")
    response = crm.mass_update(IDS_BODY, module="Leadz")
    assert response.json() == {
        "code": "INVALID_MODULE",
        "details": {"resource_path_index": 0},
        "message": "The module name given seems to be invalid",
        "status": "error",
    }
    oas(ERROR_SCHEMA, response.json())


def test_the_spec_check_is_not_vacuous(oas: Validate) -> None:
    with pytest.raises(jsonschema.ValidationError):
        oas(ERROR_SCHEMA, {"code": "NO_SUCH_CODE", "details": {}, "message": "x", "status": "error"})
    with pytest.raises(jsonschema.ValidationError):
        oas(f"{MU}/requestBodies/IDSBody/content/application~1json/schema", {"data": [{"x": 1}], "ids": [1]})
