"""
Job mode after the job's POST lost its reply (or got one that cannot be read): never a second job,
never "no job was scheduled" while the first one updates the view.
"""

from __future__ import annotations

import pytest

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from airflow_crm_provider.runs.ledger import JOB_KEY
from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID
from tests.operator.fakes import FakeTaskStateStore, make_context
from tests.operator.helpers import mass_update_posts, run_task

pytestmark = pytest.mark.usefixtures("zoho_crm_conn")

ONE_ATTEMPT = {"max_attempts": 1, "backoff_base": 0.01, "max_retry_wait": 2.0, "max_token_wait": 0.0}


@pytest.fixture
def emulator(zoho_emulator):
    """The emulator's admin client, reset for this test."""
    return zoho_emulator.client


def job_task():
    return LeadsMassUpdateOperator(
        task_id="view_job",
        cvid=LEADS_VIEW_ID,
        data={"Rating": "Hot"},
        deferrable=False,
        poll_interval=0.05,
        max_failed_records=100,
        hook_params=ONE_ATTEMPT,
    )


@pytest.mark.parametrize("fault", ["lose_replies", "garble_replies"])
def test_a_retry_after_the_jobs_post_lost_its_reply_schedules_no_second_job(emulator, fault):
    emulator.configure(job_duration=5.0, **{fault: 1})
    store = FakeTaskStateStore()

    first = run_task(job_task(), make_context(store))

    assert first.state == "up_for_retry", first.error  # a reply that may have scheduled it: retry
    assert emulator.counters()["jobs_scheduled"] == 1
    assert store.get(JOB_KEY)["posting"] is True  # the intent was kept before the POST

    second = run_task(job_task(), make_context(store))

    assert emulator.counters()["jobs_scheduled"] == 1  # the retry's POST found the job running
    assert second.state == "failed"  # the truth: a job is running that this task cannot follow
    reason = second.summary["reason"]
    assert "earlier try" in reason
    assert "ALREADY_SCHEDULED" in reason
    assert "no job was scheduled" not in reason
    assert "none scheduled" not in reason
    assert JOB_KEY not in store.rows  # final: a cleared task starts anew


def test_a_retry_schedules_the_job_when_the_lost_post_scheduled_none(emulator):
    emulator.configure(job_duration=0.3, drop_connections=1)  # closed before Zoho acted
    store = FakeTaskStateStore()
    first = run_task(job_task(), make_context(store))
    assert first.state == "up_for_retry", first.error
    assert emulator.counters()["jobs_scheduled"] == 0

    second = run_task(job_task(), make_context(store))

    assert second.state == "success", second.error
    assert emulator.counters()["jobs_scheduled"] == 1
    assert second.summary["job_status"] == "COMPLETED"
    assert {"job_id": second.summary["job_id"]} == second.pushed["job_id"]
    assert len(mass_update_posts(emulator)) == 2


def test_a_refused_post_drops_the_intent(emulator):
    emulator.seed(custom_views={LEADS_VIEW_ID: []})  # the view is empty: NO_RECORDS_FOUND
    store = FakeTaskStateStore()
    out = run_task(job_task(), make_context(store))
    assert out.state == "skipped"
    assert JOB_KEY not in store.rows or store.get(JOB_KEY)["posting"] is False
