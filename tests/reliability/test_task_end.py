"""Whichever way a task ends after its inputs were checked, it pushes its summary and every record."""

from __future__ import annotations

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.operators import mass_update
from tests.reliability.helpers import run_operator

HOOK = {"max_attempts": 2, "backoff_base": 0.01, "max_retry_wait": 5.0, "max_token_wait": 0.0}
DATA = {"Lead_Status": "Contacted"}


def test_an_unexpected_error_before_any_write_reports_not_sent(zoho_crm_conn, zoho_emulator, monkeypatch):
    ids = zoho_emulator.client.seed("Leads", count=3)

    def get_org(self):  # an error of no kind the client knows, where the credit floor asks
        raise RuntimeError("unexpected")

    monkeypatch.setattr(ZohoCRMHook, "get_org", get_org)
    end = run_operator(ids=ids, data=DATA, hook_params=HOOK, min_credits_remaining=10)

    assert end.state == "up_for_retry"
    assert isinstance(end.error, RuntimeError)
    assert [r["code"] for r in end.records] == ["NOT_SENT"] * len(ids)
    assert end.summary["outcome"] == "failed"
    assert "RuntimeError: unexpected" in end.records[0]["message"]
    assert zoho_emulator.client.counters()["mass_update_posts"] == 0


def test_an_unexpected_error_after_a_write_reports_unconfirmed(zoho_crm_conn, zoho_emulator, monkeypatch):
    ids = zoho_emulator.client.seed("Leads", count=3)

    def ids_result(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(mass_update, "ids_result", ids_result)
    end = run_operator(ids=ids, data=DATA, hook_params=HOOK)

    assert end.state == "up_for_retry"
    assert [r["code"] for r in end.records] == ["UNCONFIRMED"] * len(ids)  # never "not applied"
    assert "may have applied" in end.records[0]["message"]
    assert end.summary["outcome"] == "failed"


@pytest.mark.parametrize("option", [{}, {"snapshot": True}])
def test_a_task_that_concludes_is_not_concluded_twice(zoho_crm_conn, zoho_emulator, option):
    ids = zoho_emulator.client.seed("Leads", count=2)
    zoho_emulator.client.configure(burst_5xx=10)  # the run stops on a transient error and concludes
    end = run_operator(ids=ids, data=DATA, hook_params=HOOK, **option)
    assert end.state == "up_for_retry"
    assert "unexpected" not in end.summary["reason"]
    assert len(end.records) == len(ids)
