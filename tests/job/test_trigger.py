"""The poll-only trigger: serialisation, run() against the emulator, and the deferral round trip."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from importlib import import_module

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.runs.job_inputs import JobSettings, ViewTarget
from airflow_crm_provider.runs.outcomes import Thresholds
from airflow_crm_provider.testing.emulator import defaults
from airflow_crm_provider.triggers.mass_update import ZohoCRMMassUpdateJobTrigger
from airflow_crm_provider.version_compat import AirflowFailException
from airflow_crm_provider.zoho import retries as _retries
from airflow_crm_provider.zoho.errors import ZohoTokenThrottledError, ZohoTransientError
from tests.operator.fakes import complete_job_task, make_context, run_job_task

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred

VIEW = "738964000000087501"
LENIENT = Thresholds(max_failed_records=100)


def rebuild(trigger):
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)(**kwargs)


async def first_event(trigger):
    events = [event async for event in trigger.run()]
    assert len(events) == 1
    return events[0].payload


@pytest.fixture
def emulator(zoho_emulator):
    zoho_emulator.client.configure(job_duration=0.5)
    return zoho_emulator.client


@pytest.fixture
def schedule(emulator, zoho_crm_conn):
    def make(view=VIEW):
        return ZohoCRMHook(zoho_crm_conn).mass_update_by_view("Leads", {"Rating": "Hot"}, view)

    return make


def trigger_for(job_id, **kwargs):
    return ZohoCRMMassUpdateJobTrigger(
        zoho_crm_conn_id="zoho_crm_default", module="Leads", job_id=job_id, poll_interval=0.05, **kwargs
    )


def test_serialize_round_trip_holds_only_json_and_no_secret():
    trigger = trigger_for("738964000005000001", end_time=1.7e9)
    path, kwargs = trigger.serialize()
    assert path == "airflow_crm_provider.triggers.mass_update.ZohoCRMMassUpdateJobTrigger"
    assert kwargs == {
        "zoho_crm_conn_id": "zoho_crm_default",
        "module": "Leads",
        "job_id": "738964000005000001",
        "poll_interval": 0.05,
        "end_time": 1.7e9,
        "hook_params": {},
        "calls": {},
        "credits_remaining": None,
    }
    text = json.dumps(kwargs)
    for secret in (defaults.CLIENT_SECRET, defaults.REFRESH_TOKEN):
        assert secret not in text
    assert rebuild(trigger).serialize() == (path, kwargs)


async def test_run_polls_until_completed(emulator, schedule, zoho_crm_conn):
    job_id = schedule()
    event = await first_event(trigger_for(job_id))
    assert event["status"] == "success"
    assert event["job_id"] == job_id
    assert event["job"]["status"] == "COMPLETED"
    assert event["job"]["updated_count"] == event["job"]["total_count"] > 0
    json.dumps(event)  # small and JSON


async def test_rerun_from_scratch_sends_no_post(emulator, schedule, zoho_crm_conn):
    emulator.configure(job_duration=30)
    job_id = schedule()
    end = time.time() + 0.2
    first = await first_event(trigger_for(job_id, end_time=end))
    # a triggerer restart rebuilds the trigger from its serialised kwargs and runs it again
    second = await first_event(rebuild(trigger_for(job_id, end_time=end)))
    assert first["status"] == second["status"] == "timeout"
    assert "still" in first["message"]
    assert emulator.counters()["mass_update_posts"] == 1
    crm = [e for e in emulator.log() if e["path"].startswith("/crm/")]
    assert [e["method"] for e in crm[1:]] == ["GET"] * (len(crm) - 1)
    assert len(crm) >= 3


async def test_failed_job_is_an_error_event(emulator, schedule, zoho_crm_conn):
    emulator.configure(fail_jobs=True)
    event = await first_event(trigger_for(schedule()))
    assert event["status"] == "error"
    assert event["job"]["status"] == "FAILED"
    assert event["retryable"] is False


async def test_unknown_status_fails_closed(emulator, zoho_crm_conn, monkeypatch):
    # the emulator only knows Zoho's four statuses: this shape needs a stand-in reply
    async def paused(self, module, job_id):
        return {
            "job_id": job_id,
            "status": "PAUSED",
            "total_count": 3,
            "updated_count": 1,
            "failed_count": 0,
            "not_updated_count": 2,
        }

    monkeypatch.setattr(ZohoCRMHook, "aget_mass_update_status", paused)
    event = await first_event(trigger_for("1"))
    assert event["status"] == "error"
    assert "'PAUSED'" in event["message"]


async def test_unknown_job_is_an_error_event(emulator, zoho_crm_conn):
    event = await first_event(trigger_for("123"))
    assert (event["status"], event["code"], event["retryable"]) == ("error", "NOT_FOUND", False)
    assert event["job"] is None


async def test_transient_failure_is_a_retryable_error_event(emulator, schedule, zoho_crm_conn, monkeypatch):
    job_id = schedule()
    monkeypatch.setattr(_retries.Retries, "next_delay", lambda self, *a, **k: None)  # no backoff
    emulator.configure(burst_5xx=1)
    event = await first_event(trigger_for(job_id))
    assert (event["status"], event["retryable"]) == ("error", True)


def job_settings(**kwargs):
    base = {
        "module": "Leads",
        "data": {"Rating": "Hot"},
        "target": ViewTarget(VIEW),
        "poll_interval": 0.05,
        "timeout": 30.0,
        "thresholds": LENIENT,
    }
    return JobSettings(**{**base, **kwargs})


def defer(deferral):
    trigger = ZohoCRMMassUpdateJobTrigger(
        module=deferral.module,
        job_id=deferral.job_id,
        poll_interval=deferral.poll_interval,
        end_time=deferral.end_time,
    )
    raise TaskDeferred(trigger=trigger, method_name="execute_complete", timeout=deferral.timeout)


async def test_deferral_round_trip(emulator, zoho_crm_conn):
    context = make_context()
    settings = job_settings()
    with pytest.raises(TaskDeferred) as info:
        run_job_task(context, settings, ZohoCRMHook(zoho_crm_conn), defer=defer)
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    assert isinstance(deferred.trigger, ZohoCRMMassUpdateJobTrigger)
    assert deferred.timeout >= timedelta(seconds=30)
    job_id = context["ti"].pushed["job_id"]  # pushed before deferring
    assert deferred.trigger.job_id == job_id
    assert emulator.counters()["mass_update_posts"] == 1

    event = await first_event(rebuild(deferred.trigger))
    summary = complete_job_task(context, settings, event)
    assert (summary["outcome"], summary["job_id"], summary["job_status"]) == ("success", job_id, "COMPLETED")
    assert summary["updated"] == summary["requested"] > 0
    assert context["ti"].pushed["records"] == []
    assert emulator.counters()["mass_update_posts"] == 1


JOB = {"job_id": "7", "total_count": 4, "updated_count": 0, "failed_count": 4, "not_updated_count": 0}


@pytest.mark.parametrize(
    ("event", "raises", "match"),
    [
        (
            {"status": "error", "job_id": "7", "job": {**JOB, "status": "FAILED"}},
            AirflowFailException,
            "ended FAILED",
        ),
        (
            {"status": "error", "job_id": "7", "job": {**JOB, "status": "PAUSED"}},
            AirflowFailException,
            "unknown",
        ),
        (
            {
                "status": "error",
                "job_id": "7",
                "job": None,
                "message": "reading failed: NO_PERMISSION",
                "code": "NO_PERMISSION",
            },
            AirflowFailException,
            "NO_PERMISSION",
        ),
        (
            {"status": "error", "job_id": "7", "job": None, "message": "HTTP 500", "retryable": True},
            ZohoTransientError,
            "HTTP 500",
        ),
        (
            {"status": "timeout", "job_id": "7", "job": {**JOB, "status": "RUNNING", "failed_count": 0}},
            AirflowFailException,
            "timeout=30s",
        ),
        ({"oops": True}, AirflowFailException, "does not understand"),
    ],
)
def test_execute_complete_error_events_fail_and_push_xcoms(event, raises, match):
    context = make_context()
    with pytest.raises(raises, match=match):
        complete_job_task(context, job_settings(), event)
    assert context["ti"].pushed["return_value"]["outcome"] == "failed"
    assert context["ti"].pushed["records"] == []


def test_execute_complete_success_event_judges_counts():
    event = {
        "status": "success",
        "job_id": "7",
        "job": {**JOB, "status": "COMPLETED", "updated_count": 3, "failed_count": 1},
    }
    context = make_context()
    with pytest.raises(AirflowFailException, match="1 record\\(s\\) failed"):
        complete_job_task(context, job_settings(thresholds=Thresholds()), event)
    summary = complete_job_task(make_context(), job_settings(), event)
    assert (summary["updated"], summary["failed"], summary["outcome"]) == (3, 1, "success")


async def test_token_mint_throttle_is_a_retryable_error_event(zoho_crm_conn, monkeypatch):
    async def throttled(self, module, job_id):
        raise ZohoTokenThrottledError("Access Denied: too many requests continuously", code="Access Denied")

    monkeypatch.setattr(ZohoCRMHook, "aget_mass_update_status", throttled)
    event = await first_event(trigger_for("1"))
    assert (event["status"], event["retryable"]) == ("error", True)  # as in ids mode: Airflow retries apply
