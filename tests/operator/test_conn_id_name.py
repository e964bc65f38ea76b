"""The connection argument is ``zoho_crm_conn_id``; the former ``zoho_conn_id`` works, with a warning."""

from __future__ import annotations

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from airflow_crm_provider.operators.revert import ZohoCRMRevertMassUpdateOperator
from airflow_crm_provider.triggers.mass_update import ZohoCRMMassUpdateJobTrigger
from airflow_crm_provider.version_compat import AirflowProviderDeprecationWarning
from tests.operator.helpers import run_task

OK_1 = "738964000002131001"


def test_the_operators_take_zoho_crm_conn_id_without_a_warning(recwarn):
    op = LeadsMassUpdateOperator(
        task_id="t", data={"Rating": "Active"}, ids=[OK_1], zoho_crm_conn_id="zoho_eu"
    )
    revert = ZohoCRMRevertMassUpdateOperator(task_id="r", source_task_id="t", zoho_crm_conn_id="zoho_eu")
    assert op.zoho_crm_conn_id == revert.zoho_crm_conn_id == "zoho_eu"
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]


def test_the_former_name_still_works_with_a_deprecation_warning(zoho_crm_conn, zoho_emulator):
    with pytest.warns(AirflowProviderDeprecationWarning, match="zoho_crm_conn_id"):
        op = LeadsMassUpdateOperator(
            task_id="t", data={"Rating": "Active"}, ids=[OK_1], zoho_conn_id=zoho_crm_conn
        )
    assert op.zoho_crm_conn_id == zoho_crm_conn
    out = run_task(op)
    assert out.state == "success", out.error
    with pytest.warns(AirflowProviderDeprecationWarning):
        hook = ZohoCRMHook(zoho_conn_id="zoho_eu")
    assert hook.zoho_crm_conn_id == hook.zoho_conn_id == "zoho_eu"


def test_giving_both_names_with_different_values_is_refused():
    with pytest.warns(AirflowProviderDeprecationWarning), pytest.raises(TypeError, match="not both"):
        LeadsMassUpdateOperator(task_id="t", data={}, zoho_crm_conn_id="a", zoho_conn_id="b")


def test_a_trigger_serialized_under_the_former_name_still_loads():
    old = {
        "zoho_conn_id": "zoho_eu",
        "module": "Leads",
        "job_id": "7",
        "poll_interval": 1.0,
        "end_time": None,
    }
    with pytest.warns(AirflowProviderDeprecationWarning):
        trigger = ZohoCRMMassUpdateJobTrigger(**old)
    assert trigger.serialize()[1]["zoho_crm_conn_id"] == "zoho_eu"
