"""429 bursts, 5xx, dropped connections and timeouts against the emulator: retried, bounded, typed."""

from __future__ import annotations

import pytest

from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID, SEED_IDS
from airflow_crm_provider.zoho.errors import (
    ZohoConnectionError,
    ZohoRateLimitError,
    ZohoServerError,
    ZohoTransientError,
)

DATA = {"City": "Oslo"}


@pytest.fixture
def hook(make_hook):
    hook = make_hook()
    hook.test_connection()  # mint first, so the counts below are CRM requests only
    hook.sleeps = []
    hook._sleep = hook.sleeps.append  # record the waits instead of sleeping
    return hook


def posts(emulator) -> int:
    return emulator.counters()["mass_update_posts"]


@pytest.mark.parametrize(
    ("fault", "counter"),
    [
        ("burst_429", "answered_429"),
        ("burst_5xx", "answered_5xx"),
        ("drop_connections", "dropped_connections"),
    ],
)
def test_transient_failures_are_retried_with_backoff(hook, emulator, fault, counter):
    emulator.configure(**{fault: 2})
    entries = hook.mass_update("Leads", DATA, [SEED_IDS[0]])
    assert entries[0]["code"] == "SUCCESS"
    assert emulator.counters()[counter] == 2
    assert posts(emulator) == 3
    assert len(hook.sleeps) == 2
    assert 0.005 <= hook.sleeps[0] <= 0.01  # jittered around backoff_base
    assert 0.01 <= hook.sleeps[1] <= 0.02  # doubled


@pytest.mark.parametrize(
    ("fault", "error", "code", "status"),
    [
        ("burst_429", ZohoRateLimitError, "TOO_MANY_REQUESTS", 429),
        ("burst_5xx", ZohoServerError, "INTERNAL_ERROR", 500),
        ("drop_connections", ZohoConnectionError, None, None),
    ],
)
def test_retries_are_bounded_in_attempts(hook, emulator, fault, error, code, status):
    emulator.configure(**{fault: 10})
    with pytest.raises(error, match=r"gave up after 4 attempt\(s\)") as err:
        hook.mass_update("Leads", DATA, [SEED_IDS[0]])
    assert isinstance(err.value, ZohoTransientError)
    assert (err.value.code, err.value.http_status) == (code, status)
    assert posts(emulator) == 4
    assert len(hook.sleeps) == 3


def test_retry_after_is_honoured(hook, emulator):
    emulator.configure(burst_429=1, retry_after=0.5)
    assert hook.mass_update("Leads", DATA, [SEED_IDS[0]])[0]["code"] == "SUCCESS"
    assert hook.sleeps == [0.5]


def test_retry_after_beyond_the_time_budget_gives_up_at_once(make_hook, emulator):
    hook = make_hook(hook_kwargs={"max_retry_wait": 1.0})
    hook._sleep = lambda s: pytest.fail("must not wait longer than max_retry_wait")
    emulator.configure(burst_429=1, retry_after=30)
    with pytest.raises(ZohoRateLimitError) as err:
        hook.mass_update("Leads", DATA, [SEED_IDS[0]])
    assert err.value.retry_after == 30
    assert posts(emulator) == 1


def test_timeouts_are_retried_then_raised(make_hook, emulator):
    hook = make_hook(read_timeout=0.2, hook_kwargs={"max_attempts": 2})
    hook.test_connection()
    emulator.configure(latency=1.0)
    with pytest.raises(ZohoConnectionError, match="ReadTimeout") as err:
        hook.get_records("Leads", [SEED_IDS[0]], ["City"])
    assert "gave up after 2 attempt(s)" in str(err.value)
    assert emulator.counters()["record_gets"] == 2


async def test_async_status_retries_the_same_way(make_hook, emulator):
    emulator.configure(job_duration=60)
    hook = make_hook()
    job_id = hook.mass_update_by_view("Leads", DATA, LEADS_VIEW_ID)
    emulator.configure(burst_5xx=1, drop_connections=1)
    status = await make_hook().aget_mass_update_status("Leads", job_id)
    assert status["job_id"] == job_id
    counters = emulator.counters()
    assert (counters["answered_5xx"], counters["dropped_connections"], counters["status_gets"]) == (1, 1, 3)
    emulator.configure(burst_429=10)
    with pytest.raises(ZohoRateLimitError, match="gave up after 4"):
        await make_hook().aget_mass_update_status("Leads", job_id)


async def test_async_status_refreshes_and_replays(make_hook, emulator):
    hook = make_hook()
    job_id = hook.mass_update_by_view("Leads", DATA, LEADS_VIEW_ID)
    emulator.expire_tokens()
    status = await make_hook().aget_mass_update_status("Leads", job_id)
    assert status["job_id"] == job_id
    assert emulator.counters()["tokens_minted"] == 2


def test_job_post_is_not_resent_once_it_may_have_reached_zoho(hook, emulator):
    emulator.configure(drop_connections=1)
    with pytest.raises(ZohoConnectionError, match="not re-sent") as err:
        hook.mass_update_by_view("Leads", DATA, cvid=LEADS_VIEW_ID)
    assert err.value.maybe_delivered
    assert posts(emulator) == 1
    assert hook.sleeps == []


def test_job_post_is_retried_after_429_and_5xx(hook, emulator):
    emulator.configure(burst_429=1, burst_5xx=1)
    assert hook.mass_update_by_view("Leads", DATA, cvid=LEADS_VIEW_ID).isdigit()
    assert posts(emulator) == 3


def test_connection_never_made_is_not_maybe_delivered(make_hook):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    hook = make_hook(
        access_token="static",
        api_url=f"http://127.0.0.1:{closed_port}",
        refresh_token=None,
        hook_kwargs={"max_attempts": 1},
    )
    with pytest.raises(ZohoConnectionError) as err:
        hook.mass_update_by_view("Leads", DATA, cvid=LEADS_VIEW_ID)
    assert not err.value.maybe_delivered
