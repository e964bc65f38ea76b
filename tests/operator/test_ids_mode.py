from __future__ import annotations

import threading
import time

import pytest

from airflow_crm_provider.runs.ids_runner import IdsSettings, run_ids_mode
from airflow_crm_provider.runs.ledger import ChunkLedger, TaskState, fingerprint
from airflow_crm_provider.runs.outcomes import NO_RESULT, NOT_SENT, UNCONFIRMED
from airflow_crm_provider.zoho.errors import (
    ErrorClass,
    ZohoAuthError,
    ZohoConnectionError,
    ZohoRequestError,
    ZohoTokenThrottledError,
)
from tests.operator.fakes import FakeTaskStateStore

NO_WAIT = {"locked_retry_delay": 0.0}


def ok(i):
    return {
        "id": i,
        "status": "success",
        "code": "SUCCESS",
        "message": "record updated",
        "details": {"id": i},
    }


def err(i, code, message="x"):
    return {"id": i, "status": "error", "code": code, "message": message, "details": {"id": i}}


class FakeZoho:
    """A send() whose answer per id is scripted; records every call."""

    def __init__(self, answers=None, latency=0.0):
        self.answers = answers or {}  # id -> list of codes, one per call (last repeats)
        self.calls: list[list[str]] = []
        self.latency = latency
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def __call__(self, chunk):
        with self.lock:
            self.calls.append(list(chunk))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            seen = sum(c.count(chunk[0]) for c in self.calls) - 1
        try:
            if self.latency:
                time.sleep(self.latency)
            out = []
            for i in reversed(chunk):  # Zoho's order is not ours: reassembly must not care
                codes = self.answers.get(i, ["SUCCESS"])
                code = codes[min(seen, len(codes) - 1)]
                out.append(ok(i) if code == "SUCCESS" else err(i, code))
            return out
        finally:
            with self.lock:
                self.in_flight -= 1


def ledger(store=None):
    return ChunkLedger(TaskState(store), "run")


def test_chunks_bounded_concurrency_and_input_order():
    ids = [str(1000 + i) for i in range(23)]
    zoho = FakeZoho(latency=0.02)
    run = run_ids_mode(zoho, ids, IdsSettings(batch_size=5, max_concurrency=3, **NO_WAIT), ledger())
    assert sorted(len(c) for c in zoho.calls) == [3, 5, 5, 5, 5]
    assert sorted(i for c in zoho.calls for i in c) == sorted(ids)
    assert 1 < zoho.max_in_flight <= 3
    assert list(run.entries) != []
    assert all(run.entries[i]["code"] == "SUCCESS" for i in ids)
    assert run.calls == 5
    assert not run.stopped


def test_locked_records_are_resent_then_succeed():
    zoho = FakeZoho({"2": ["RECORD_LOCKED", "RECORD_LOCKED", "SUCCESS"]})
    slept = []
    run = run_ids_mode(zoho, ["1", "2", "3"], IdsSettings(locked_retries=3), ledger(), sleep=slept.append)
    assert zoho.calls == [["1", "2", "3"], ["2"], ["2"]]
    assert run.entries["2"]["code"] == "SUCCESS"
    assert len(slept) == 2
    assert 2.5 <= slept[0] <= 5.0
    assert 5.0 <= slept[1] <= 10.0


def test_locked_records_stay_locked_then_count_as_skipped():
    zoho = FakeZoho({"2": ["RECORD_LOCKED"]})
    run = run_ids_mode(zoho, ["1", "2"], IdsSettings(locked_retries=2, **NO_WAIT), ledger())
    assert zoho.calls == [["1", "2"], ["2"], ["2"]]
    assert run.entries["2"]["code"] == "RECORD_LOCKED"
    assert not run.stopped


def test_locked_retries_zero_sends_once():
    zoho = FakeZoho({"2": ["RECORD_LOCKED"]})
    run_ids_mode(zoho, ["1", "2"], IdsSettings(locked_retries=0), ledger())
    assert zoho.calls == [["1", "2"]]


def test_policy_can_make_any_code_retry_class():
    zoho = FakeZoho({"1": ["NOT_APPROVED", "SUCCESS"]})
    run = run_ids_mode(zoho, ["1"], IdsSettings(**NO_WAIT), ledger(), {"NOT_APPROVED": ErrorClass.RETRY})
    assert zoho.calls == [["1"], ["1"]]
    assert run.entries["1"]["code"] == "SUCCESS"


def test_missing_result_fails_closed():
    def send(chunk):
        return [ok(chunk[0]), ok("999")]  # one id unanswered, one never sent

    run = run_ids_mode(send, ["1", "2"], IdsSettings(), ledger())
    assert run.entries["1"]["code"] == "SUCCESS"
    assert run.entries["2"]["code"] == NO_RESULT
    assert "999" not in run.entries


def test_request_level_fail_stops_the_run():
    calls = []

    def send(chunk):
        calls.append(chunk)
        if len(calls) == 1:
            raise ZohoRequestError(
                "This field cannot be updated in the Mass Update",
                code="INVALID_DATA",
                details={"api_name": "No_of_Employees1"},
                http_status=200,
            )
        return [ok(i) for i in chunk]

    ids = [str(i) for i in range(1, 11)]
    run = run_ids_mode(send, ids, IdsSettings(batch_size=2, max_concurrency=1), ledger())
    assert len(calls) == 1
    assert isinstance(run.request_error, ZohoRequestError)
    assert run.entries["1"]["code"] == "INVALID_DATA"
    assert run.entries["1"]["details"] == {"api_name": "No_of_Employees1"}
    assert set(run.entries) == {"1", "2"}  # the rest was never sent (NOT_SENT when records are built)


def test_request_level_error_softened_by_policy_continues():
    def send(chunk):
        raise ZohoRequestError("No field found", code="INVALID_DATA")

    run = run_ids_mode(
        send, ["1", "2", "3"], IdsSettings(batch_size=2), ledger(), {"INVALID_DATA": ErrorClass.SOFT}
    )
    assert not run.stopped
    assert [run.entries[i]["code"] for i in "123"] == ["INVALID_DATA"] * 3
    assert run.calls == 2


@pytest.mark.parametrize(
    ("error", "code", "says"),
    [
        (ZohoConnectionError("dropped"), UNCONFIRMED, "Zoho may have applied it"),  # may have reached Zoho
        (ZohoConnectionError("refused", maybe_delivered=False), NOT_SENT, "not applied"),
        (ZohoTokenThrottledError("Access Denied"), NOT_SENT, "not applied"),  # never sent: no token
        (RuntimeError("bug"), UNCONFIRMED, "Zoho may have applied it"),
    ],
)
def test_transient_or_unexpected_error_stops_keeping_applied_chunks(error, code, says):
    sent = []

    def send(chunk):
        sent.append(chunk)
        if chunk[0] == "3":
            raise error
        return [ok(i) for i in chunk]

    store = FakeTaskStateStore()
    ids = [str(i) for i in range(1, 9)]
    run = run_ids_mode(send, ids, IdsSettings(batch_size=2, max_concurrency=1), ledger(store))
    assert run.stop_error is error
    assert run.request_error is None
    assert run.entries["1"]["code"] == "SUCCESS"
    assert run.entries["3"]["code"] == code
    assert says in run.entries["3"]["message"]
    assert "5" not in run.entries
    assert len(store.rows) == 1  # only the applied chunk is remembered


def test_auth_error_is_request_level():
    def send(chunk):
        raise ZohoAuthError("Authentication failed", code="AUTHENTICATION_FAILURE", http_status=401)

    run = run_ids_mode(send, ["1"], IdsSettings(), ledger())
    assert run.request_error is not None
    assert run.entries["1"]["code"] == "AUTHENTICATION_FAILURE"


def test_retry_resumes_from_the_ledger_and_sends_only_the_rest():
    store = FakeTaskStateStore()
    ids = [str(i) for i in range(1, 11)]
    calls = []

    def crashing(chunk):
        calls.append(chunk)
        if len(calls) == 3:
            raise ZohoConnectionError("worker lost the connection")
        return [ok(i) if i != "2" else err(i, "RECORD_LOCKED") for i in chunk]

    first = run_ids_mode(
        crashing, ids, IdsSettings(batch_size=2, max_concurrency=1, **NO_WAIT), ledger(store)
    )
    assert first.stopped
    assert len(store.rows) == 2

    zoho = FakeZoho({"2": ["SUCCESS"]})
    second = run_ids_mode(zoho, ids, IdsSettings(batch_size=2, max_concurrency=1, **NO_WAIT), ledger(store))
    assert not second.stopped
    assert second.resumed == 4
    sent_again = [i for c in zoho.calls for i in c]
    assert sent_again == ["5", "6", "7", "8", "9", "10", "2"]  # round 1 re-sends the locked id only
    assert second.entries["1"]["message"] == "record updated (in an earlier try)"
    assert second.entries["2"]["code"] == "SUCCESS"


def test_ledger_is_not_reused_when_inputs_change():
    store = FakeTaskStateStore()
    run_ids_mode(FakeZoho(), ["1", "2"], IdsSettings(), ChunkLedger(TaskState(store), "a"))
    zoho = FakeZoho()
    run_ids_mode(zoho, ["1", "2"], IdsSettings(), ChunkLedger(TaskState(store), "b"))
    assert zoho.calls == [["1", "2"]]
    zoho = FakeZoho()
    run_ids_mode(zoho, ["1", "2", "3"], IdsSettings(), ChunkLedger(TaskState(store), "a"))
    assert zoho.calls == [["1", "2", "3"]]


def test_ledger_clear_deletes_its_keys_and_survives_a_broken_store():
    store = FakeTaskStateStore()
    state = TaskState(store)
    run_ids_mode(FakeZoho(), ["1", "2", "3"], IdsSettings(batch_size=1), ChunkLedger(state, "run"))
    assert len(store.rows) == 3
    state.clear()
    assert store.rows == {}

    class Broken(FakeTaskStateStore):
        def set(self, key, value, *, retention=None):
            raise RuntimeError("api server down")

    broken = ChunkLedger(TaskState(Broken()), "run")
    run = run_ids_mode(FakeZoho(), ["1", "2"], IdsSettings(batch_size=1), broken)
    assert not run.stopped
    assert not broken.enabled


def test_stored_chunks_stay_compact():
    store = FakeTaskStateStore()
    ids = [str(738964000002131001 + i) for i in range(500)]
    run_ids_mode(FakeZoho(), ids, IdsSettings(), ledger(store))
    (value,) = store.rows.values()
    assert len(value) < 65535  # [state_store] max_value_storage_bytes default: no warning per chunk


def test_ledger_keys_cover_the_inputs():
    store = FakeTaskStateStore()
    a = ChunkLedger(TaskState(store), fingerprint("Leads", {"City": "x"}, False))
    b = ChunkLedger(TaskState(store), fingerprint("Leads", {"City": "x"}, True))
    assert a.enabled
    a.put(0, ["1"], [ok("1")])
    assert a.get(0, ["1"]) == [{**ok("1"), "message": "record updated (in an earlier try)"}]
    assert b.get(0, ["1"]) is None  # over_write differs: not the same write
    assert a.get(1, ["1"]) is None  # another round


@pytest.mark.parametrize(
    "stored",
    [
        {"entries": [["2", "success", "SUCCESS", "record updated", {}]]},  # another chunk's ids
        {"entries": [["1", "success"]]},  # malformed rows
        {"entries": [["1", "success", "SUCCESS", "record updated", {}]] * 2},  # too many rows
    ],
)
def test_ledger_rows_that_do_not_match_the_chunk_are_not_reused(stored):
    store = FakeTaskStateStore()
    book = ChunkLedger(TaskState(store), "run")
    book.put(0, ["1"], [ok("1")])
    (key,) = store.rows
    store.set(key, stored)
    zoho = FakeZoho()
    run = run_ids_mode(zoho, ["1"], IdsSettings(), ChunkLedger(TaskState(store), "run"))
    assert zoho.calls == [["1"]]  # sent, not taken from rows that are not its results
    assert run.entries["1"]["message"] == "record updated"


class TaskTimeout(BaseException):
    """Like ``AirflowTaskTimeout``: raised in the task's main thread while calls are in flight."""


def test_calls_in_flight_when_the_task_is_stopped_are_kept_for_the_retry(monkeypatch):
    from airflow_crm_provider.runs import ids_runner as _ids_mode

    store = FakeTaskStateStore()
    real_wait = _ids_mode.wait
    waits = []

    def interrupted(futures, return_when):
        waits.append(1)
        if len(waits) == 2:  # chunks in flight: let them reach Zoho, then stop the task
            real_wait(futures)
            raise TaskTimeout
        return real_wait(futures, return_when=return_when)

    monkeypatch.setattr(_ids_mode, "wait", interrupted)
    ids = [str(i) for i in range(1, 7)]
    first = FakeZoho(latency=0.05)
    with pytest.raises(TaskTimeout):
        run_ids_mode(first, ids, IdsSettings(batch_size=2, max_concurrency=2), ledger(store))
    assert len(first.calls) == 3  # two chunks, then the third submitted after the first returned
    monkeypatch.setattr(_ids_mode, "wait", real_wait)

    retry = FakeZoho()
    run = run_ids_mode(retry, ids, IdsSettings(batch_size=2, max_concurrency=2), ledger(store))
    assert retry.calls == []  # every chunk Zoho applied is known: none is sent twice
    assert run.resumed == 6
