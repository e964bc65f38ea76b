"""The job-mode operator against the emulator over loopback: polling, deferral, resume, refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator, ZohoCRMMassUpdateOperator
from airflow_crm_provider.runs.outcomes import NOT_SENT
from airflow_crm_provider.triggers.mass_update import ZohoCRMMassUpdateJobTrigger
from airflow_crm_provider.version_compat import AirflowFailException
from tests.operator.fakes import FakeTaskStateStore, make_context
from tests.operator.helpers import run_task

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred

VIEW = "738964000000087501"
EMPTY_VIEW = "738964000000087502"
TERRITORY = "738964000000111111"


@pytest.fixture
def emulator(zoho_emulator, zoho_crm_conn):
    zoho_emulator.client.configure(job_duration=0.5)
    return zoho_emulator.client


def job_op(**kwargs):
    args = {
        "task_id": "job",
        "data": {"Rating": "Hot"},
        "cvid": VIEW,
        "poll_interval": 0.05,
        "timeout": 30,
        "deferrable": False,
        "max_failed_records": 100,
        "hook_params": {"max_attempts": 1},
    }
    return LeadsMassUpdateOperator(**{**args, **kwargs})


def crm_log(client):
    return [e for e in client.log() if e["path"].startswith("/crm/")]


def test_new_arguments_are_templated():
    assert {"cvid", "territory_id"} <= set(ZohoCRMMassUpdateOperator.template_fields)
    assert {"cvid", "territory_id"} <= set(LeadsMassUpdateOperator.template_fields)
    op = job_op(cvid="{{ params.view }}", territory_id="{{ params.territory }}")
    op.render_template_fields({"params": {"view": VIEW, "territory": TERRITORY}})
    assert (op.cvid, op.territory_id) == (VIEW, TERRITORY)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ids": ["738964000002131001"]}, "either ids or cvid, not both"),
        ({"cvid": None, "ids": ["738964000002131001"], "territory_id": TERRITORY}, "territory_id needs cvid"),
        ({"cvid": None, "territory_id": TERRITORY}, "territory_id needs cvid"),
        ({"dry_run": True}, "dry_run works in ids mode only"),
        ({"cvid": "all-leads"}, "cvid must be a numeric Zoho id"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"data": {}}, "data is empty"),
    ],
)
def test_input_errors_fail_before_any_request(emulator, kwargs, match):
    out = run_task(job_op(**kwargs))
    assert out.state == "failed"
    assert match in str(out.error)
    assert "nothing was sent" in str(out.error)
    assert crm_log(emulator) == []
    assert out.summary["outcome"] == "failed"
    assert all(r["code"] == NOT_SENT for r in out.records)


def test_job_mode_polls_to_completion(emulator):
    ids = emulator.seed(count=3, fields={"Rating": "Cold"})
    my_view = "738964000000099002"
    emulator.seed(custom_views={my_view: ids})
    out = run_task(job_op(cvid=int(my_view), max_failed_records=0))
    assert out.state == "success", out.error
    assert out.summary["mode"] == "job"
    assert out.pushed["job_id"] == {"job_id": out.summary["job_id"]}  # an object: the UI shows it exactly
    assert (out.summary["requested"], out.summary["updated"], out.summary["failed"]) == (3, 3, 0)
    assert out.records == []
    assert "counts only" in out.summary["note"]
    assert {emulator.record("Leads", i)["Rating"] for i in ids} == {"Hot"}


def test_empty_view_skips(emulator):
    out = run_task(job_op(cvid=EMPTY_VIEW))
    assert out.state == "skipped"
    assert "NO_RECORDS_FOUND" in str(out.error)
    assert out.summary["mode"] == "job"


def test_deferrable_defers_then_concludes_from_the_event(emulator):
    op = job_op(deferrable=True, territory_id=TERRITORY)
    context = make_context()
    with pytest.raises(TaskDeferred) as info:
        op.execute(context)
    deferred = info.value
    trigger = deferred.trigger
    assert isinstance(trigger, ZohoCRMMassUpdateJobTrigger)
    assert deferred.method_name == "execute_complete"
    assert timedelta(seconds=30) < deferred.timeout <= timedelta(seconds=120)
    _path, kwargs = trigger.serialize()
    assert {"job_id": kwargs["job_id"]} == context["ti"].pushed["job_id"]
    assert (kwargs["zoho_crm_conn_id"], kwargs["module"], kwargs["poll_interval"]) == (
        "zoho_crm_default",
        "Leads",
        0.05,
    )
    assert [e["method"] for e in crm_log(emulator)] == ["POST"]

    import asyncio

    async def first_event():
        async for event in ZohoCRMMassUpdateJobTrigger(**kwargs).run():
            return event.payload

    event = asyncio.run(first_event())
    summary = job_op(deferrable=True, territory_id=TERRITORY).execute_complete(context, event)
    assert (summary["outcome"], summary["job_status"], summary["territory_id"]) == (
        "success",
        "COMPLETED",
        TERRITORY,
    )
    assert [e["method"] for e in crm_log(emulator)].count("POST") == 1


def deferred(op, context):
    """Execute ``op`` up to its deferral; return the trigger rebuilt as the triggerer does."""
    with pytest.raises(TaskDeferred) as info:
        op.execute(context)
    _path, kwargs = info.value.trigger.serialize()
    return ZohoCRMMassUpdateJobTrigger(**kwargs)


def first_event(trigger):
    import asyncio

    async def run():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(run())


def test_the_hook_params_reach_the_trigger(emulator):
    op = job_op(deferrable=True, hook_params={"max_attempts": 1, "max_retry_wait": 7.0})
    trigger = deferred(op, make_context())
    assert trigger.hook_params == {"max_attempts": 1, "max_retry_wait": 7.0}
    emulator.configure(burst_5xx=1)  # one attempt allowed: the trigger's first status read fails
    event = first_event(trigger)
    assert (event["status"], event["retryable"]) == ("error", True)
    assert "gave up after 1 attempt" in event["message"]


def test_job_mode_keeps_its_call_counts_across_a_deferral(emulator):
    context = make_context()
    trigger = deferred(job_op(deferrable=True), context)
    event = first_event(trigger)
    summary = job_op(deferrable=True).execute_complete(context, event)
    polls = [e for e in crm_log(emulator) if e["method"] == "GET"]
    assert summary["calls"]["mass_update"] == 1
    assert summary["calls"]["status"] == len(polls) >= 1
    assert sum(summary["calls"].values()) == len(crm_log(emulator))


def test_execute_complete_with_an_error_event_fails_and_pushes(emulator):
    context = make_context()
    event = {
        "status": "error",
        "job_id": "9",
        "job": None,
        "message": "NO_PERMISSION: permission denied",
        "code": "NO_PERMISSION",
    }
    with pytest.raises(AirflowFailException, match="NO_PERMISSION"):
        job_op(deferrable=True).execute_complete(context, event)
    assert context["ti"].pushed["return_value"]["job_id"] == "9"
    assert context["ti"].pushed["records"] == []


def test_a_retry_after_the_deferred_try_died_resumes_the_job(emulator):
    store = FakeTaskStateStore()  # the same rows for both tries, as task_state_store keeps them
    with pytest.raises(TaskDeferred):
        job_op(deferrable=True).execute(make_context(store))
    first_job = store.get("zoho_crm.mass_update.job")["job_id"]
    out = run_task(job_op(deferrable=False), make_context(store))
    assert out.state == "success", out.error
    assert out.pushed["job_id"] == {"job_id": out.summary["job_id"]}
    assert out.summary["job_id"] == first_job
    assert emulator.counters()["jobs_scheduled"] == 1


@pytest.mark.parametrize("cvid", ["None", " ", "null"])
def test_cvid_rendering_to_nothing_is_ids_mode_in_every_summary(emulator, cvid):
    empty = run_task(LeadsMassUpdateOperator(task_id="t", data={"Rating": "Hot"}, ids="[]", cvid=cvid))
    refused = run_task(LeadsMassUpdateOperator(task_id="t", data={}, ids=["1"], cvid=cvid))
    assert (empty.state, empty.summary["mode"]) == ("skipped", "ids")
    assert (refused.state, refused.summary["mode"]) == ("failed", "ids")
    assert crm_log(emulator) == []
