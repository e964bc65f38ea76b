"""The metadata reads of the preflight: a module's fields and the org's modules, from the emulator."""

from __future__ import annotations

import pytest

from airflow_crm_provider.zoho.errors import ZohoAuthError, ZohoRequestError
from airflow_crm_provider.zoho.metadata import parse_fields, parse_modules


def test_fields_come_back_by_api_name_with_what_a_write_may_set(make_hook, crm_log):
    hook = make_hook()
    fields = hook.get_fields("Leads")
    (get,) = crm_log()
    assert (get["method"], get["path"], get["query"]) == (
        "GET",
        "/crm/v8/settings/fields",
        {"module": "Leads"},
    )
    status = fields["Lead_Status"]
    assert (status.data_type, status.read_only, status.api_update, status.mass_update) == (
        "picklist",
        False,
        True,
        True,
    )
    assert "Contacted" in status.picklist
    assert fields["Email"].mass_update is False  # Zoho refuses email fields in a mass update
    assert fields["Product_Interest"].picklist == ("CRM", "Analytics", "Mail", "Desk", "Books")
    modified = fields["Modified_Time"]  # a system field: read-only, not updatable through the API
    assert (modified.read_only, modified.api_update) == (True, False)
    assert fields["City"].picklist == ()
    assert hook.credits.calls["metadata"] == 1


def test_an_unknown_module_is_zohos_invalid_module(make_hook):
    with pytest.raises(ZohoRequestError) as err:
        make_hook().get_fields("Lead")
    assert (err.value.code, err.value.http_status) == ("INVALID_MODULE", 400)


def test_the_org_modules_are_listed(make_hook, emulator):
    emulator.define_fields("Projects_X", {"Stage_X": "picklist"})
    hook = make_hook()
    assert {"Leads", "Contacts", "Accounts", "Deals", "Projects_X"} <= set(hook.get_modules())
    assert hook.credits.calls["metadata"] == 1


def test_a_grant_without_the_settings_scope_is_refused(make_hook, emulator):
    refresh = emulator.issue_refresh_token(scopes=["ZohoCRM.modules.ALL", "ZohoCRM.mass_update.ALL"])
    with pytest.raises(ZohoAuthError) as err:
        make_hook(refresh_token=refresh).get_fields("Leads")
    assert err.value.code == "OAUTH_SCOPE_MISMATCH"


def test_replies_without_their_list_are_request_errors():
    with pytest.raises(ZohoRequestError, match="no fields"):
        parse_fields({"fields": []}, 200)
    with pytest.raises(ZohoRequestError, match="no modules"):
        parse_modules({"data": []}, 200)
    unsupported = {"modules": [{"api_name": "Leads"}, {"api_name": "Visits", "api_supported": False}]}
    assert parse_modules(unsupported, 200) == ["Leads"]
