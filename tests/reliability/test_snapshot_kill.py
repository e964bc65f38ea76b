"""
SIGKILL of a real task process that takes a ``snapshot``, between the snapshot and the first write
and in the middle of the writes, then Airflow's retry, then the revert: no snapshot is lost, and the
revert restores the store exactly as it was before the run.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from airflow_crm_provider.operators.revert import LeadsRevertMassUpdateOperator
from airflow_crm_provider.version_compat import AIRFLOW_V_3_3_PLUS
from tests.operator.fakes import make_context
from tests.operator.helpers import run_task
from tests.reliability.conftest import CHILD_TIMEOUT, mass_update_ids, recorded_ids

pytestmark = [
    pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="a retry resumes from task_state_store (Airflow 3.3+)"),
    pytest.mark.usefixtures("zoho_crm_conn"),
]

RECORDS = 1_500
FIELD = "Lead_Status"
VALUE = "Junk Lead"
HOOK = {"max_attempts": 3, "backoff_base": 0.05, "max_retry_wait": 10.0, "max_token_wait": 0.0}
STATUSES = ("Not Contacted", "Attempted to Contact", "Contacted")


def _seed(client) -> tuple[list[str], dict[str, object]]:
    ids: list[str] = []
    for status in STATUSES:
        ids += client.seed("Leads", count=RECORDS // 3, fields={FIELD: status})
    store = client.records("Leads")
    return ids, {i: store[i][FIELD] for i in ids}


def _op_kwargs(ids, kill_at=None):
    return {
        "ids": ids,
        "data": {FIELD: VALUE},
        "snapshot": True,
        "skip_unchanged": True,
        "batch_size": 100,
        "max_concurrency": 2,
        "retries": 1,
        "retry_delay": 0,
        "hook_params": HOOK,
        "kill_at": kill_at,
    }


def _retry_then_revert(airflow_home, client, ids, before):
    recorded = recorded_ids(airflow_home)
    code = airflow_home.run("reliability_snapshot", retry=True, **_op_kwargs(ids))
    assert code == 0, airflow_home.output()[-3000:]
    assert airflow_home.ti() == ("success", 2)
    sent = Counter(mass_update_ids(client))
    assert set(sent) == set(ids)
    assert [i for i in recorded if sent[i] != 1] == []  # no recorded chunk sent again
    # only the chunks in flight at the kill (their replies never recorded) went out twice
    assert sum(n == 2 for n in sent.values()) <= 2 * 100
    snapshot = airflow_home.xcom("snapshot")
    assert snapshot == {i: {FIELD: before[i]} for i in ids}  # the values before the run, not after
    store = client.records("Leads")
    assert all(store[i][FIELD] == VALUE for i in ids)

    upstream = {"update": {"return_value": airflow_home.xcom("return_value"), "snapshot": snapshot}}
    back = run_task(
        LeadsRevertMassUpdateOperator(task_id="revert", source_task_id="update", hook_params=HOOK),
        make_context(upstream=upstream),
    )
    assert back.state == "success", back.error
    store = client.records("Leads")
    assert {i: store[i][FIELD] for i in ids} == before


def test_sigkill_between_the_snapshot_and_the_first_write(airflow_home, zoho_emulator):
    client = zoho_emulator.client
    ids, before = _seed(client)

    code = airflow_home.run("reliability_snapshot", **_op_kwargs(ids, kill_at="first_write"))

    assert code == -9
    assert mass_update_ids(client) == []
    kept = [v for v in airflow_home.state_store() if "values" in v]
    assert sum(len(v["ids"]) for v in kept) == len(ids)  # the whole reading survived the kill
    _retry_then_revert(airflow_home, client, ids, before)


def test_sigkill_in_the_middle_of_the_writes(airflow_home, zoho_emulator, knobs):
    client = zoho_emulator.client
    ids, before = _seed(client)
    client.configure(latency=0.05)
    knobs.update(kill_after_posts=5, records=len(ids))

    child = airflow_home.start("reliability_snapshot", **_op_kwargs(ids))
    deadline = time.monotonic() + CHILD_TIMEOUT
    while client.counters()["mass_update_posts"] < 5 and child.poll() is None:
        assert time.monotonic() < deadline, "the run never reached the kill point"
        time.sleep(0.01)
    child.kill()
    child.wait(30)
    client.configure(latency=0)
    knobs.update(posts_before_kill=client.counters()["mass_update_posts"])

    _retry_then_revert(airflow_home, client, ids, before)
