"""
DAGs of the reliability suite: one write task (mass update, Update Records or Upsert), built from a
JSON spec (in-process or in a child).

A child process runs ``python -m tests.reliability.dag_factory`` with its dags folder
holding :data:`DAG_FILE` (which builds the same DAG from the same spec, so ``dag.test()`` finds it
serialized): it runs ``dag.test()`` at the fixed logical date, so a second child with the same spec
runs the same DAG run again (the next try of the same task instance, with its ``task_state_store``
rows), as Airflow's retry of a killed task does.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from airflow_crm_provider.operators.update_records import LeadsUpdateRecordsOperator
from airflow_crm_provider.operators.upsert import LeadsUpsertOperator

LOGICAL_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
TASK_ID = "set_leads"
#: The DAG file a child's dags folder holds: the DAG of the spec named by ``$RELIABILITY_SPEC``.
DAG_FILE = """
# an airflow DAG file (the DagBag's safe mode looks for these words)
import json, os
from tests.reliability.dag_factory import build_dag
with open(os.environ["RELIABILITY_SPEC"]) as spec_file:
    spec = json.load(spec_file)
dag = build_dag(spec["dag_id"], **spec["op_kwargs"])
"""


def _killed_execute(op: Any, context: Any, execute: Any) -> Any:
    """
    Run a public operator's ``execute``, killed with SIGKILL at a chosen instant (``op.kill_at``).

    ``first_write``: as the first write is about to be sent (what a run reads first, for
    ``snapshot`` or ``skip_unchanged``, is kept by then); ``records_push``: as the ``records`` XCom
    is pushed (before it is stored); ``after_execute``: once ``execute`` returned, before Airflow
    records the task's success. Only try 1 is killed.
    """
    first_try = context["ti"].try_number == 1
    if op.kill_at == "records_push" and first_try:
        # RuntimeTaskInstance is a pydantic model (no attribute can be set on it): patch its class,
        # in this child process only
        runtime_ti = type(context["ti"])
        real_push = runtime_ti.xcom_push

        def push(self: Any, key: str, value: Any, **kwargs: Any) -> None:
            if key == "records":
                os.kill(os.getpid(), signal.SIGKILL)
            real_push(self, key, value, **kwargs)

        runtime_ti.xcom_push = push
    if op.kill_at == "first_write" and first_try:
        for name in ("mass_update", "update_records", "upsert"):
            setattr(type(op.hook), name, lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL))
    result = execute(context)
    if op.kill_at == "after_execute" and first_try:
        os.kill(os.getpid(), signal.SIGKILL)
    return result


class KillableMassUpdate(LeadsMassUpdateOperator):
    """The public mass update operator, killed as ``kill_at`` says (see :func:`_killed_execute`)."""

    def __init__(self, *, kill_at: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kill_at = kill_at

    def execute(self, context: Any) -> Any:
        return _killed_execute(self, context, super().execute)


class KillableUpdateRecords(LeadsUpdateRecordsOperator):
    """The public Update Records operator, killed as ``kill_at`` says."""

    def __init__(self, *, kill_at: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kill_at = kill_at

    def execute(self, context: Any) -> Any:
        return _killed_execute(self, context, super().execute)


class KillableUpsert(LeadsUpsertOperator):
    """The public Upsert operator, killed as ``kill_at`` says."""

    def __init__(self, *, kill_at: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kill_at = kill_at

    def execute(self, context: Any) -> Any:
        return _killed_execute(self, context, super().execute)


KILLABLE = {
    "mass_update": KillableMassUpdate,
    "update_records": KillableUpdateRecords,
    "upsert": KillableUpsert,
}


def build_dag(dag_id: str, **op_kwargs: Any) -> DAG:
    """
    Return a DAG with one write task (``set_leads``) on ``zoho_crm_default``.

    :param dag_id: the DAG id.
    :param op_kwargs: the operator's arguments (``kill_at`` too; ``action`` picks the operator).
    """
    killable = KILLABLE[op_kwargs.pop("action", "mass_update")]
    with DAG(dag_id, schedule=None, start_date=LOGICAL_DATE, catchup=False) as dag:
        killable(task_id=TASK_ID, **op_kwargs)
    return dag


def run(dag_id: str, op_kwargs: dict[str, Any]) -> str:
    """Build the DAG and run it at the fixed logical date; return the DAG run's state."""
    dag = build_dag(dag_id, **op_kwargs)
    return str(dag.test(logical_date=LOGICAL_DATE, run_after=LOGICAL_DATE).state)


def retry(dag_id: str, op_kwargs: dict[str, Any]) -> str:
    """
    Play the scheduler after a worker died: the running try failed, so retry it in this process.

    ``dag.test()`` would replace the DAG run (and its ``task_state_store`` rows): this runs the
    same loop on the existing run instead. Return the DAG run's state.
    """
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils import timezone as airflow_timezone
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    dag = build_dag(dag_id, **op_kwargs)
    session = settings.Session()
    dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id))
    if dag_run is None:
        raise RuntimeError(f"no DAG run of {dag_id} to retry")
    dag_run.dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    for ti in dag_run.get_task_instances(session=session):
        if ti.state == TaskInstanceState.RUNNING:  # its heartbeat stopped: this try failed
            ti.state = TaskInstanceState.UP_FOR_RETRY
            ti.end_date = airflow_timezone.utcnow()
    dag_run.state = DagRunState.RUNNING
    session.commit()
    while dag_run.state == DagRunState.RUNNING:
        session.expire_all()
        schedulable, _ = dag_run.update_state(session=session)
        for ti in schedulable:
            ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
        session.commit()
        for ti in dag_run.get_task_instances(session=session):
            if ti.state == TaskInstanceState.SCHEDULED:
                _run_task(ti=ti, task=dag.task_dict[ti.task_id])
    return str(dag_run.state)


if __name__ == "__main__":
    with open(os.environ["RELIABILITY_SPEC"]) as spec_file:
        spec = json.load(spec_file)
    action = retry if spec.get("retry") else run
    print("dag run state:", action(spec["dag_id"], spec["op_kwargs"]), flush=True)
