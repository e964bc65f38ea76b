"""
Replies broken on the wire (stalled, short) on every path: typed errors, retried, truthful.

The emulator carries each request out, then breaks its reply (``stall_replies``, ``short_replies``):
urllib3 raises its own errors where the body is read, and the client must turn each into a retried
:class:`ZohoConnectionError`, whichever call it was. (A 2xx whose body is not JSON, ``garble_replies``,
is read back instead: see ``test_write_truth.py``.)
"""

from __future__ import annotations

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.operators.revert import LeadsRevertMassUpdateOperator
from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID
from airflow_crm_provider.zoho.errors import ZohoConnectionError
from tests.operator.fakes import make_context
from tests.operator.helpers import run_task
from tests.reliability.helpers import run_operator

FAULTS = ("stall_replies", "short_replies")
HOOK = {"max_attempts": 3, "backoff_base": 0.05, "max_retry_wait": 20.0, "max_token_wait": 0.0}
DATA = {"Lead_Status": "Contacted"}


@pytest.fixture
def leads(zoho_emulator, monkeypatch) -> list[str]:
    """Five fresh Leads, on a connection whose read timeout cuts a stalled reply in a second."""
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", zoho_emulator.connection_json(read_timeout="1"))
    return zoho_emulator.client.seed("Leads", count=5, fields={"Lead_Status": "Not Contacted"})


def _held(client, ids: list[str], value: str) -> bool:
    store = client.records("Leads")
    return all(store[i]["Lead_Status"] == value for i in ids)


@pytest.mark.parametrize("fault", FAULTS)
def test_hook_retries_a_broken_reply(leads, zoho_emulator, fault):
    client = zoho_emulator.client
    hook = ZohoCRMHook(**HOOK)
    hook.check_credentials()
    client.configure(**{fault: 1})
    assert set(hook.get_records("Leads", leads, ["Lead_Status"])) == set(leads)
    assert client.counters()["broken_replies"] == 1
    assert client.counters()["record_gets"] == 2  # the broken one, then its retry


@pytest.mark.parametrize("fault", FAULTS)
def test_hook_gives_up_with_a_typed_error(leads, zoho_emulator, fault):
    hook = ZohoCRMHook(**{**HOOK, "max_attempts": 2})
    hook.check_credentials()
    zoho_emulator.client.configure(**{fault: 2})
    with pytest.raises(ZohoConnectionError, match=r"gave up after 2 attempt\(s\)") as err:
        hook.get_org()
    assert err.value.maybe_delivered


@pytest.mark.parametrize("fault", FAULTS)
def test_ids_mode_retries_a_broken_write_reply(leads, zoho_emulator, fault):
    client = zoho_emulator.client
    client.configure(**{fault: 1})  # the token is minted outside /crm/: the first POST's reply breaks
    end = run_operator(ids=leads, data=DATA, hook_params=HOOK)
    assert end.state == "success", end.error
    assert [r["code"] for r in end.records] == ["SUCCESS"] * len(leads)
    assert _held(client, leads, "Contacted")
    assert client.counters()["broken_replies"] == 1


@pytest.mark.parametrize(
    ("fault", "option"), [("short_replies", "skip_unchanged"), ("stall_replies", "snapshot")]
)
def test_reads_before_writing_retry_a_broken_reply(leads, zoho_emulator, fault, option):
    client = zoho_emulator.client
    client.configure(**{fault: 1})  # the first read's reply breaks
    end = run_operator(ids=leads, data=DATA, hook_params=HOOK, **{option: True})
    assert end.state == "success", end.error
    assert [r["code"] for r in end.records] == ["SUCCESS"] * len(leads)
    assert client.counters()["broken_replies"] == 1
    if option == "snapshot":
        assert end.pushed["snapshot"] == {i: {"Lead_Status": "Not Contacted"} for i in leads}


@pytest.mark.parametrize("fault", FAULTS)
def test_credit_floor_get_org_broken_reply_is_retried(leads, zoho_emulator, fault):
    client = zoho_emulator.client
    client.configure(**{fault: 1})  # GET org comes first
    end = run_operator(ids=leads, data=DATA, hook_params=HOOK, min_credits_remaining=10)
    assert end.state == "success", end.error
    assert _held(client, leads, "Contacted")
    assert end.summary["calls"]["other"] == 1  # GET org answered once, after its broken try


def test_credit_floor_get_org_failing_still_pushes_every_record(leads, zoho_emulator):
    client = zoho_emulator.client
    client.configure(short_replies=1)
    end = run_operator(
        ids=leads, data=DATA, hook_params={**HOOK, "max_attempts": 1}, min_credits_remaining=10
    )
    assert end.state == "success", end.error  # credits unknown: going on, as documented
    assert [r["id"] for r in end.records] == leads
    assert end.summary["updated"] == len(leads)


def test_job_status_broken_reply_is_retried(leads, zoho_emulator):
    client = zoho_emulator.client
    hook = ZohoCRMHook(**HOOK)
    job_id = hook.mass_update_by_view("Leads", DATA, LEADS_VIEW_ID)
    client.configure(short_replies=1, stall_replies=1)
    assert hook.get_mass_update_status("Leads", job_id)["job_id"] == job_id
    assert client.counters()["broken_replies"] == 2


async def test_async_job_status_broken_reply_is_retried(leads, zoho_emulator):
    client = zoho_emulator.client
    hook = ZohoCRMHook(**HOOK)
    job_id = hook.mass_update_by_view("Leads", DATA, LEADS_VIEW_ID)
    client.configure(stall_replies=1, short_replies=1)
    status = await ZohoCRMHook(**HOOK).aget_mass_update_status("Leads", job_id)
    assert status["job_id"] == job_id
    assert client.counters()["broken_replies"] == 2


def test_job_post_broken_reply_is_not_resent_and_is_reported(leads, zoho_emulator):
    client = zoho_emulator.client
    client.configure(short_replies=1)  # the job POST is applied, its reply cut short
    end = run_operator(cvid=LEADS_VIEW_ID, data=DATA, hook_params=HOOK, poll_interval=0.2)
    assert client.counters()["mass_update_posts"] == 1  # never posted twice
    assert end.state != "success"
    assert isinstance(end.error, ZohoConnectionError), end.error
    assert end.summary["outcome"] == "failed"
    assert "may have reached Zoho" in end.summary["reason"]


@pytest.mark.parametrize("fault", FAULTS)
def test_revert_retries_a_broken_reply(leads, zoho_emulator, fault):
    client = zoho_emulator.client
    forward = run_operator(ids=leads, data=DATA, snapshot=True, hook_params=HOOK)
    assert forward.state == "success", forward.error
    client.configure(**{fault: 2})  # the revert's read, then its write
    back = run_task(
        LeadsRevertMassUpdateOperator(task_id="revert", source_task_id="update", hook_params=HOOK),
        make_context(upstream={"update": forward.pushed}),
    )
    assert back.state == "success", back.error
    assert [r["code"] for r in back.records] == ["SUCCESS"] * len(leads)
    assert _held(client, leads, "Not Contacted")
    assert client.counters()["broken_replies"] == 2
