"""The preflight's pure check: field names, settable fields and picklist values against the metadata."""

from __future__ import annotations

import pytest

from airflow_crm_provider.runs.policy import InputError
from airflow_crm_provider.runs.preflight import check_fields, closest
from airflow_crm_provider.zoho.metadata import FieldMeta

STATUSES = ("Not Contacted", "Attempted to Contact", "Contacted", "Junk Lead")
FIELDS = {
    "Lead_Status": FieldMeta("Lead_Status", "picklist", mass_update=True, picklist=STATUSES),
    "City": FieldMeta("City", "text", mass_update=True),
    "Email": FieldMeta("Email", "email", mass_update=False),
    "Modified_Time": FieldMeta("Modified_Time", "datetime", read_only=True, api_update=False),
    "Score": FieldMeta("Score", "formula", api_update=False),
    "Product_Interest": FieldMeta(
        "Product_Interest", "multiselectpicklist", mass_update=True, picklist=("CRM", "Analytics", "Mail")
    ),
    "Stage": FieldMeta("Stage", "picklist", picklist=("won",), picklist_labels=("Closed Won",)),
}


def refused(values, **kwargs) -> str:
    with pytest.raises(InputError) as err:
        check_fields("Leads", FIELDS, values, **kwargs)
    return str(err.value)


def test_what_the_metadata_allows_passes():
    check_fields(
        "Leads",
        FIELDS,
        {
            "Lead_Status": ["Contacted", None],  # None clears the field
            "City": ["Oslo", 5],
            "Product_Interest": [["CRM", "Mail"], "Analytics"],
            "Stage": ["won", "Closed Won"],  # the API value or its label
        },
    )


def test_a_misspelled_field_gets_the_closest_name():
    message = refused({"Lead_Stauts": ["Contacted"]})
    assert message.startswith("Leads has no field `Lead_Stauts`: did you mean `Lead_Status`?")
    assert "preflight=False skips this check" in message
    assert "did you mean `Lead_Status`" in refused({"lead_status": ["Contacted"]})  # case is a typo too
    assert "did you mean" not in refused({"Zzqx": [1]})  # nothing close: no guess


@pytest.mark.parametrize(
    ("field", "why"),
    [
        ("Modified_Time", "is read-only"),
        ("Score", "cannot be updated through the API"),
        ("Email", "cannot be set by a mass update (Zoho marks this email field not mass-updatable)"),
    ],
)
def test_fields_the_write_cannot_set_are_named(field, why):
    assert f"field `{field}` {why}" in refused({field: ["x"]})


def test_a_per_record_write_may_set_what_mass_update_cannot():
    check_fields("Leads", FIELDS, {"Email": ["a@example.com"]}, mass_update=False)
    assert "is read-only" in refused({"Modified_Time": ["x"]}, mass_update=False)


def test_picklist_values_off_the_list_are_named_with_the_closest():
    message = refused({"Lead_Status": ["Contacted", "Contaced", "Hot"]})
    assert "picklist `Lead_Status` has no value 'Contaced' (did you mean 'Contacted'?), 'Hot'" in message
    many = refused({"Lead_Status": [f"v{i}" for i in range(8)] + ["v0"]})
    assert "'v4' and 3 more" in many  # each distinct value once, five named
    assert "its values: 'Not Contacted', 'Attempted to Contact', 'Contacted', 'Junk Lead'" in many
    assert "has no value 'Cloud'" in refused({"Product_Interest": [["CRM", "Cloud"]]})
    assert "has no value 3" in refused({"Lead_Status": [3]})  # not text: not a picklist value


def test_every_problem_is_named_in_one_refusal():
    message = refused({"Lead_Stauts": ["x"], "Email": ["a@b.c"], "Lead_Status": ["Hot"]})
    assert message.count(";") >= 2
    assert "`Lead_Stauts`" in message
    assert "`Email`" in message
    assert "'Hot'" in message


def test_closest_prefers_a_case_insensitive_match():
    assert closest("LEADS", ["Leads", "Lead_Sources"]) == ["Leads"]
    assert closest("Lead", ["Leads", "Deals", "Contacts"]) == ["Leads"]
    assert closest("Invoices", ["Leads", "Deals"]) == []
