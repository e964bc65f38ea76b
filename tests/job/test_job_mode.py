"""Job mode (custom view / territory) end to end against the emulator over loopback."""

from __future__ import annotations

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.runs.job_inputs import JobSettings, ViewTarget
from airflow_crm_provider.runs.job_runner import COUNTS_ONLY_NOTE
from airflow_crm_provider.runs.ledger import JOB_KEY
from airflow_crm_provider.runs.outcomes import Thresholds
from airflow_crm_provider.version_compat import AirflowFailException, AirflowSkipException
from airflow_crm_provider.zoho.errors import ZohoTokenThrottledError, ZohoTransientError
from tests.operator.fakes import FakeTaskStateStore, make_context, run_job_task

VIEW = "738964000000087501"
EMPTY_VIEW = "738964000000087502"
TERRITORY = "738964000000111111"
MY_VIEW = "738964000000099001"


class SpyHook(ZohoCRMHook):
    """The real hook, remembering every job status it read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.statuses: list[str] = []

    def get_mass_update_status(self, module, job_id):
        job = super().get_mass_update_status(module, job_id)
        self.statuses.append(job["status"])
        return job


@pytest.fixture
def hook(zoho_crm_conn):
    return SpyHook(zoho_crm_conn, max_attempts=1)


@pytest.fixture
def emulator(zoho_emulator):
    zoho_emulator.client.configure(job_duration=0.6)
    return zoho_emulator.client


def settings(**kwargs):
    base = {
        "module": "Leads",
        "data": {"Rating": "Active"},
        "target": ViewTarget(VIEW),
        "poll_interval": 0.05,
        "timeout": 30.0,
    }
    return JobSettings(**{**base, **kwargs})


def crm_calls(client, method=None):
    calls = [e for e in client.log() if e["path"].startswith("/crm/")]
    return [e for e in calls if method is None or e["method"] == method]


def test_job_progresses_to_completed_and_reports_counts(emulator, hook):
    ids = emulator.seed(count=5, fields={"Rating": "Cold"}, custom_views={MY_VIEW: []})
    emulator.seed(custom_views={MY_VIEW: ids})
    context = make_context(FakeTaskStateStore())

    summary = run_job_task(context, settings(target=ViewTarget(MY_VIEW)), hook)

    assert summary["mode"] == "job"
    assert summary["outcome"] == "success"
    assert (summary["requested"], summary["updated"], summary["failed"], summary["skipped"]) == (5, 5, 0, 0)
    assert summary["job_status"] == "COMPLETED"
    assert summary["note"] == COUNTS_ONLY_NOTE
    job_id = summary["job_id"]
    assert context["ti"].pushed["job_id"] == job_id
    assert context["ti"].pushed["records"] == []
    assert hook.statuses[0] == "SCHEDULED"
    assert "RUNNING" in hook.statuses
    assert hook.statuses[-1] == "COMPLETED"
    assert all(emulator.record("Leads", i)["Rating"] == "Active" for i in ids)
    assert emulator.counters()["records_changed"] == 5
    assert len(crm_calls(emulator, "POST")) == 1
    assert JOB_KEY not in context["task_state_store"].rows  # final: a later clear schedules anew


def test_territory_and_include_child_are_sent(emulator, hook):
    target = ViewTarget(VIEW, TERRITORY, include_child=True)
    run_job_task(make_context(), settings(target=target, thresholds=Thresholds(max_failed_records=100)), hook)
    (post,) = crm_calls(emulator, "POST")
    assert post["body"]["cvid"] == VIEW
    assert post["body"]["territory"] == {"id": TERRITORY, "include_child": True}


def test_failed_job_fails_the_task_and_pushes_xcoms(emulator, hook):
    emulator.configure(fail_jobs=True)
    before = emulator.records("Leads")
    context = make_context()
    with pytest.raises(AirflowFailException, match="ended FAILED"):
        run_job_task(context, settings(), hook)
    summary = context["ti"].pushed["return_value"]
    assert summary["outcome"] == "failed"
    assert summary["job_status"] == "FAILED"
    assert summary["failed"] == summary["requested"] > 0
    assert context["ti"].pushed["job_id"] == summary["job_id"]
    assert emulator.records("Leads") == before


def test_failed_records_above_threshold_fail_a_completed_job(emulator, hook):
    good = emulator.seed(count=2)
    blocked = emulator.seed(not_approved=["1306462000000777001"])
    emulator.seed(custom_views={MY_VIEW: good + blocked})
    target = ViewTarget(MY_VIEW)

    context = make_context()
    with pytest.raises(AirflowFailException, match="1 record\\(s\\) failed, more than max_failed_records=0"):
        run_job_task(context, settings(target=target), hook)
    assert context["ti"].pushed["return_value"]["failed"] == 1

    context = make_context()
    summary = run_job_task(
        context, settings(target=target, thresholds=Thresholds(max_failed_records=1)), hook
    )
    assert (summary["outcome"], summary["updated"], summary["failed"]) == ("success", 2, 1)


def test_no_records_found_skips(emulator, hook):
    context = make_context()
    with pytest.raises(AirflowSkipException, match="has no records to update \\(NO_RECORDS_FOUND\\)"):
        run_job_task(context, settings(target=ViewTarget(EMPTY_VIEW)), hook)
    summary = context["ti"].pushed["return_value"]
    assert (summary["outcome"], summary["job_id"], summary["requested"]) == ("skipped", None, 0)
    assert "job_id" not in context["ti"].pushed


def test_no_records_found_with_soft_fail_false_or_a_fail_policy_fails(emulator, hook):
    with pytest.raises(AirflowFailException, match="soft_fail=False"):
        run_job_task(
            make_context(),
            settings(target=ViewTarget(EMPTY_VIEW), thresholds=Thresholds(soft_fail=False)),
            hook,
        )
    from airflow_crm_provider.zoho.errors import ErrorClass

    strict = settings(target=ViewTarget(EMPTY_VIEW), overrides={"NO_RECORDS_FOUND": ErrorClass.FAIL})
    with pytest.raises(AirflowFailException, match="NO_RECORDS_FOUND"):
        run_job_task(make_context(), strict, hook)


def test_already_scheduled_skips_with_a_clear_message(emulator, hook):
    emulator.configure(job_duration=30)
    hook.mass_update_by_view("Leads", {"Rating": "Warm"}, VIEW)
    context = make_context()
    with pytest.raises(
        AirflowSkipException, match="another mass update job is already running on custom view"
    ):
        run_job_task(context, settings(), hook)
    assert context["ti"].pushed["return_value"]["outcome"] == "skipped"
    assert len(crm_calls(emulator, "POST")) == 2


def test_already_scheduled_as_retry_raises_a_retryable_error(emulator, hook):
    from airflow_crm_provider.zoho.errors import ErrorClass

    emulator.configure(job_duration=30)
    hook.mass_update_by_view("Leads", {"Rating": "Warm"}, VIEW)
    context = make_context()
    with pytest.raises(ZohoTransientError, match="ALREADY_SCHEDULED"):
        run_job_task(context, settings(overrides={"ALREADY_SCHEDULED": ErrorClass.RETRY}), hook)
    assert context["ti"].pushed["return_value"]["outcome"] == "failed"


def test_timeout_fails_and_keeps_the_job_for_a_resume(emulator, hook):
    emulator.configure(job_duration=30)
    context = make_context(FakeTaskStateStore())
    with pytest.raises(AirflowFailException, match=r"still (SCHEDULED|RUNNING) when timeout=0.2s passed"):
        run_job_task(context, settings(timeout=0.2), hook)
    summary = context["ti"].pushed["return_value"]
    assert summary["outcome"] == "failed"
    assert summary["job_id"] == context["ti"].pushed["job_id"]
    assert context["task_state_store"].get(JOB_KEY)["job_id"] == summary["job_id"]


class WorkerCrash(BaseException):
    """Stands for the worker process dying mid-poll (nothing runs after it)."""


def crash(_seconds):
    raise WorkerCrash


def test_retry_after_a_crash_resumes_the_same_job(emulator, hook, new_try_store):
    first = make_context(new_try_store())
    with pytest.raises(WorkerCrash):
        run_job_task(first, settings(), hook, sleep=crash)
    job_id = first["ti"].pushed["job_id"]

    retry = make_context(new_try_store())  # the next try: new ti_id, same task instance rows
    summary = run_job_task(retry, settings(thresholds=Thresholds(max_failed_records=100)), hook)

    assert summary["job_id"] == retry["ti"].pushed["job_id"] == job_id
    assert summary["job_status"] == "COMPLETED"
    assert emulator.counters()["jobs_scheduled"] == 1
    assert len(crm_calls(emulator, "POST")) == 1

    # the outcome was final, so clearing the task later schedules a new job
    emulator.configure(job_duration=0.05)
    again = run_job_task(
        make_context(new_try_store()), settings(thresholds=Thresholds(max_failed_records=100)), hook
    )
    assert again["job_id"] != job_id
    assert emulator.counters()["jobs_scheduled"] == 2


def test_retry_with_other_data_does_not_resume(emulator, hook, new_try_store):
    emulator.configure(job_duration=30)
    other_view = emulator.seed(count=1, custom_views={MY_VIEW: []})
    emulator.seed(custom_views={MY_VIEW: other_view})
    first = make_context(new_try_store())
    with pytest.raises(WorkerCrash):
        run_job_task(first, settings(target=ViewTarget(MY_VIEW)), hook, sleep=crash)
    emulator.configure(job_duration=0.05)
    summary = run_job_task(make_context(new_try_store()), settings(data={"Rating": "Cold"}), hook)
    assert summary["job_id"] != first["ti"].pushed["job_id"]
    assert emulator.counters()["jobs_scheduled"] == 2


def test_without_a_store_a_retry_schedules_again(emulator, hook):
    """Airflow < 3.3 (or no store): the job id is not kept, so the retry's POST finds the job running."""
    emulator.configure(job_duration=30)
    with pytest.raises(WorkerCrash):
        run_job_task(make_context(), settings(), hook, sleep=crash)
    with pytest.raises(AirflowSkipException, match="already running"):
        run_job_task(make_context(), settings(), hook)


def test_a_throttled_resume_never_schedules_a_second_job(emulator, zoho_crm_conn):
    emulator.configure(job_duration=30)
    store = FakeTaskStateStore()
    with pytest.raises(WorkerCrash):
        run_job_task(make_context(store), settings(), SpyHook(zoho_crm_conn, max_attempts=1), sleep=crash)

    class Throttled(SpyHook):
        def get_mass_update_status(self, module, job_id):
            raise ZohoTokenThrottledError("Access Denied: too many requests continuously")

    retry = make_context(store)
    with pytest.raises(ZohoTokenThrottledError):  # retryable: the next try resumes the job
        run_job_task(retry, settings(), Throttled(zoho_crm_conn, max_attempts=1))
    assert emulator.counters()["jobs_scheduled"] == 1
    assert JOB_KEY in store.rows
    assert retry["ti"].pushed["return_value"]["outcome"] == "failed"
