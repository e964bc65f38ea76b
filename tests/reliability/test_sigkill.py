"""
SIGKILL of a real task process (``dag.test()`` in a child) at random moments and at its very end,
then Airflow's next try of the same task instance: no chunk whose reply was recorded is sent again.

The retry is what the scheduler does once a task's worker died: the running try is failed, and the
next try of the same task instance runs (in a new child) with its ``task_state_store`` rows.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from airflow_crm_provider.version_compat import AIRFLOW_V_3_3_PLUS
from tests.reliability.conftest import CHILD_TIMEOUT, recorded_ids
from tests.reliability.helpers import action_kwargs, expected, sent_ids, writes_made

pytestmark = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS, reason="a retry resumes from task_state_store, which needs Airflow 3.3+"
)

RECORDS = 2_000
FIELD = "City"  # text: any marker value passes the preflight
HOOK = {"max_attempts": 3, "backoff_base": 0.05, "max_retry_wait": 10.0, "max_token_wait": 0.0}


def _op_kwargs(ids, value, kill_at=None, action="mass_update"):
    return {
        **action_kwargs(action, ids, FIELD, value),
        "batch_size": 100,
        "max_concurrency": 2,
        "retries": 1,
        "retry_delay": 0,
        "hook_params": HOOK,
        "kill_at": kill_at,
    }


def _written_ids(client):
    return [i for entry in client.log() for i in sent_ids(entry)]


def _check_retry(airflow_home, client, ids, value, recorded, action="mass_update"):
    """Run the retry; every id updated once, recorded chunks not re-sent, XCom equal to the store."""
    code = airflow_home.run("reliability_kill", retry=True, **_op_kwargs(ids, value, action=action))
    assert code == 0, airflow_home.output()[-3000:]
    assert airflow_home.ti() == ("success", 2)
    sent = Counter(_written_ids(client))
    resent_recorded = sorted(i for i in recorded if sent[i] != 1)
    assert resent_recorded == [], f"{len(resent_recorded)} id(s) of recorded chunks sent again"
    assert set(sent) == set(ids)
    records = airflow_home.xcom("records")
    store = client.records("Leads")
    assert [r["id"] for r in records] == ids
    assert all(r["outcome"] == "updated" for r in records)
    assert all(store[i][FIELD] == v for i, v in expected(action, ids, value).items())


@pytest.mark.parametrize(
    ("action", "seed"),
    [
        ("mass_update", 101),
        ("update_records", 111),
        ("upsert", 121),
        pytest.param("mass_update", 202, marks=pytest.mark.slow),
        pytest.param("mass_update", 303, marks=pytest.mark.slow),
    ],
)
def test_sigkill_at_a_random_moment_then_retry(airflow_home, zoho_emulator, knobs, action, seed):
    client = zoho_emulator.client
    rng = random.Random(seed)
    after_posts, delay = rng.randint(1, 15), rng.uniform(0, 0.2)
    knobs.update(seed=seed, kill_after_posts=after_posts, extra_delay=delay, records=RECORDS, latency=0.05)
    ids = client.seed("Leads", count=RECORDS)
    client.configure(latency=0.05, seed=seed)
    value = f"Killed {seed}"

    child = airflow_home.start("reliability_kill", **_op_kwargs(ids, value, action=action))
    deadline = time.monotonic() + CHILD_TIMEOUT
    while writes_made(client.counters()) < after_posts and child.poll() is None:
        assert time.monotonic() < deadline, "the run never reached the kill point"
        time.sleep(0.01)
    time.sleep(delay)
    child.kill()
    child.wait(30)
    recorded = recorded_ids(airflow_home)
    if action == "upsert":  # its rows are recorded by position ("#<index>")
        recorded = {ids[int(key[1:])] for key in recorded}
    knobs.update(posts_before_kill=writes_made(client.counters()), recorded=len(recorded))

    _check_retry(airflow_home, client, ids, value, recorded, action)


@pytest.mark.slow
def test_sigkill_while_pushing_records_then_retry(airflow_home, zoho_emulator):
    client = zoho_emulator.client
    ids = client.seed("Leads", count=RECORDS)
    assert airflow_home.run("reliability_kill", **_op_kwargs(ids, "Pushing", kill_at="records_push")) == -9
    recorded = recorded_ids(airflow_home)
    assert recorded == set(ids)  # every reply recorded before the XCom push

    _check_retry(airflow_home, client, ids, "Pushing", recorded)


def test_sigkill_at_the_very_end_then_retry(airflow_home, zoho_emulator):
    client = zoho_emulator.client
    ids = client.seed("Leads", count=RECORDS)
    assert (
        airflow_home.run("reliability_kill", **_op_kwargs(ids, "At the end", kill_at="after_execute")) == -9
    )
    assert Counter(_written_ids(client)) == dict.fromkeys(ids, 1)

    _check_retry(airflow_home, client, ids, "At the end", set(ids))
