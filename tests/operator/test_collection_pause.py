"""The cyclic collector is held off while a run decodes replies and builds records, and always resumed."""

from __future__ import annotations

import contextlib
import gc
import threading
from typing import TYPE_CHECKING

import pytest

from airflow_crm_provider.runs.collector import collection_paused
from airflow_crm_provider.runs.ids_runner import IdsSettings, run_ids_mode
from airflow_crm_provider.runs.ledger import ChunkLedger, TaskState
from airflow_crm_provider.runs.outcomes import (
    Decision,
    RunResult,
    build_records,
    summarize,
)
from airflow_crm_provider.version_compat import AirflowFailException
from tests.operator.fakes import conclude

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_crm_provider.zoho.api import ZohoEntry


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_holders_in_other_threads_keep_it_paused_until_the_last_leaves() -> None:
    entered, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with collection_paused():
            entered.set()
            leave.wait(5)

    other = threading.Thread(target=hold)
    other.start()
    entered.wait(5)
    with collection_paused():
        leave.set()
        other.join(5)
        assert not gc.isenabled()  # the other holder left first: this one still holds it
        with collection_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_resumed_after_an_error_and_left_off_if_it_was_off() -> None:
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


@pytest.mark.parametrize("fails", [False, True])
def test_an_ids_run_sends_with_the_collector_paused(fails: bool) -> None:
    seen: list[bool] = []

    def send(chunk: list[str]) -> list[ZohoEntry]:
        seen.append(gc.isenabled())
        if fails:
            raise OSError("the wire broke")
        return [
            {"id": i, "status": "success", "code": "SUCCESS", "message": "record updated", "details": {}}
            for i in chunk
        ]

    ids = [str(i) for i in range(1200)]
    run = run_ids_mode(send, ids, IdsSettings(max_concurrency=2), ChunkLedger(TaskState(None), "k"))
    assert seen
    assert not any(seen)
    assert gc.isenabled()
    assert (run.stop_error is not None) is fails


class CollectorWatchingTI:
    """A task instance that notes, per push, whether the cyclic collector was on."""

    def __init__(self) -> None:
        self.collector_on: dict[str, bool] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.collector_on[key] = gc.isenabled()


@pytest.mark.parametrize("outcome", ["success", "failed"])
def test_xcoms_are_pushed_with_the_collector_paused(outcome: str) -> None:
    records = build_records(["1"], {}, missing_message="not sent")
    result = RunResult(summarize("Leads", "ids", records), records, Decision(outcome, "because"))
    ti = CollectorWatchingTI()
    with contextlib.suppress(AirflowFailException):
        conclude({"ti": ti}, result)
    assert ti.collector_on
    assert not any(ti.collector_on.values())
    assert gc.isenabled()
