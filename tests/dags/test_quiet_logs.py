"""A successful run and an ordinary failure log no warning or error of ours, nor Airflow's noise about us."""

from __future__ import annotations

import logging
import re

import pytest

from airflow_crm_provider.testing.emulator import SEED_IDS

pytestmark = pytest.mark.integration

#: Lines that must not appear: Airflow's complaints caused by how we use it.
NOISE = (
    "Skipping masking for a secret",  # short, non-secret extras handed to the masker
    "XCom not found",  # the extra link reading a link target the task never saved
)


SOURCE = """
import pendulum
from airflow.sdk import DAG

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator

with DAG("quiet_{task_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:
    LeadsMassUpdateOperator(task_id="{task_id}", ids={ids!r}, data={{"City": "Porto"}})
"""


def _lines(capfd, caplog) -> list[str]:
    out, err = capfd.readouterr()
    records = [f"{r.levelname} {r.name} {r.getMessage()}" for r in caplog.records]
    return [*out.splitlines(), *err.splitlines(), *records]


@pytest.mark.parametrize(
    ("task_id", "ids", "state"),
    [("succeeds", list(SEED_IDS), "success"), ("refuses_bad_ids", ["12ab"], "failed")],
)
def test_no_noise(dag_from_source, zoho_crm_conn, capfd, caplog, task_id, ids, state):
    caplog.set_level(logging.DEBUG)
    (dag,) = dag_from_source(SOURCE.format(task_id=task_id, ids=ids)).values()
    dag_run = dag.test()
    assert dag_run.state == state
    lines = _lines(capfd, caplog)
    assert lines, "nothing was captured: the test would prove nothing"
    noise = [line for line in lines if any(n in line for n in NOISE)]
    assert not noise, noise
    ours = [
        line
        for line in lines
        if "airflow_crm_provider" in line and re.search(r"\[(warning|error)|^(WARNING|ERROR) ", line)
    ]
    assert not ours, ours
