"""Dry runs (ids mode) against the emulator: outcomes from the store, and the store untouched."""

from __future__ import annotations

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from airflow_crm_provider.runs.outcomes import NOT_SENT
from airflow_crm_provider.version_compat import AirflowFailException
from airflow_crm_provider.zoho import retries as _retries
from airflow_crm_provider.zoho.errors import ZohoServerError, ZohoTokenThrottledError
from tests.operator.fakes import dry_run_task, make_context
from tests.operator.helpers import crm_requests, run_task

MISSING = "738964000009999999"


@pytest.fixture
def hook(zoho_crm_conn):
    return ZohoCRMHook(zoho_crm_conn, max_attempts=1)


def assert_nothing_written(client, before):
    assert client.counters()["records_changed"] == 0
    assert client.counters()["mass_update_posts"] == 0
    assert {e["method"] for e in client.log() if e["path"].startswith("/crm/")} == {"GET"}
    assert client.records("Leads") == before


def test_outcomes_match_the_store_and_nothing_is_written(zoho_emulator, hook):
    client = zoho_emulator.client
    hot = client.seed(count=2, fields={"Rating": "Hot"})
    cold = client.seed(count=2, fields={"Rating": "Cold"})
    ids = [cold[0], hot[0], MISSING, cold[1], hot[1]]
    before = client.records("Leads")
    context = make_context()

    summary = dry_run_task(context, hook, module="Leads", data={"Rating": "Hot"}, ids=ids)

    records = context["ti"].pushed["records"]
    assert [r["id"] for r in records] == ids
    expected = {
        i: "not_found"
        if i not in before
        else ("unchanged" if before[i]["Rating"] == "Hot" else "would_update")
        for i in ids
    }
    assert {r["id"]: r["outcome"] for r in records} == expected
    assert [r["outcome"] for r in records] == [
        "would_update",
        "unchanged",
        "not_found",
        "would_update",
        "unchanged",
    ]
    assert records[0]["details"]["current"] == {"Rating": "Cold"}
    assert summary["mode"] == "dry_run"
    assert summary["outcome"] == "success"
    assert (summary["would_update"], summary["unchanged"], summary["not_found"]) == (2, 2, 1)
    assert (summary["requested"], summary["updated"], summary["failed"]) == (5, 0, 0)
    assert summary["by_code"] == {"WOULD_UPDATE": 2, "UNCHANGED": 2, "NOT_FOUND": 1}
    assert_nothing_written(client, before)


def test_multi_select_append_and_replace(zoho_emulator, hook):
    client = zoho_emulator.client
    (lead,) = client.seed(count=1, fields={"Product_Interest": ["Mail", "Books"]})
    data = {"Product_Interest": ["Mail"]}
    append = dry_run_task(make_context(), hook, module="Leads", data=data, ids=[lead])
    replace = dry_run_task(make_context(), hook, module="Leads", data=data, ids=[lead], over_write=True)
    assert (append["unchanged"], replace["would_update"]) == (1, 1)


def test_numeric_field_read_back_as_a_float_matches_templated_text(zoho_emulator, hook):
    client = zoho_emulator.client
    (lead,) = client.seed(count=1)
    hook.mass_update("Leads", {"Annual_Revenue": 1000}, ids=[lead])
    assert client.records("Leads")[lead]["Annual_Revenue"] == 1000.0  # currency comes back as a float

    same = dry_run_task(make_context(), hook, module="Leads", data={"Annual_Revenue": "1000"}, ids=[lead])
    other = dry_run_task(make_context(), hook, module="Leads", data={"Annual_Revenue": "1000.5"}, ids=[lead])

    assert (same["unchanged"], other["would_update"]) == (1, 1)


def test_reads_in_chunks_of_100(zoho_emulator, hook):
    client = zoho_emulator.client
    ids = client.seed(count=150)
    before = client.records("Leads")
    summary = dry_run_task(make_context(), hook, module="Leads", data={"Lead_Status": "Contacted"}, ids=ids)
    assert summary["requested"] == 150
    assert summary["would_update"] + summary["unchanged"] == 150
    assert client.counters()["record_gets"] == 2
    assert_nothing_written(client, before)


def test_read_failure_fails_and_still_reports_every_id(zoho_emulator, zoho_crm_conn, monkeypatch, tmp_path):
    client = zoho_emulator.client
    ids = client.seed(count=120)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ZOHO_CRM_DEFAULT",
        zoho_emulator.with_cache_dir(tmp_path / "t").connection_json(refresh_token="1000.revoked"),
    )
    context = make_context()
    with pytest.raises(AirflowFailException, match="dry run could not read the records"):
        dry_run_task(
            context,
            ZohoCRMHook(zoho_crm_conn, max_attempts=1),
            module="Leads",
            data={"Rating": "Hot"},
            ids=ids,
        )
    records = context["ti"].pushed["records"]
    assert [r["id"] for r in records] == ids
    assert {r["code"] for r in records} == {NOT_SENT}
    assert context["ti"].pushed["return_value"]["outcome"] == "failed"
    assert client.counters()["records_changed"] == 0


def test_transient_failure_mid_read_is_retryable_and_keeps_what_was_read(
    zoho_emulator, zoho_crm_conn, monkeypatch
):
    client = zoho_emulator.client
    ids = client.seed(count=150)
    monkeypatch.setattr(_retries.Retries, "next_delay", lambda self, *a, **k: None)  # no backoff

    class FailsAfterFirstChunk(ZohoCRMHook):
        def iter_records(self, module, ids, fields):
            for chunk in super().iter_records(module, ids, fields):
                client.configure(burst_5xx=1)  # the next read answers 500
                yield chunk

    context = make_context()
    with pytest.raises(ZohoServerError):
        dry_run_task(
            context, FailsAfterFirstChunk(zoho_crm_conn), module="Leads", data={"Rating": "Hot"}, ids=ids
        )
    records = context["ti"].pushed["records"]
    assert [r["id"] for r in records] == ids
    assert {r["outcome"] for r in records[:100]} <= {"would_update", "unchanged"}
    assert {r["code"] for r in records[100:]} == {NOT_SENT}
    assert context["ti"].pushed["return_value"]["outcome"] == "failed"
    assert client.counters()["records_changed"] == 0


def test_token_mint_throttle_is_retryable(zoho_emulator, hook, monkeypatch):
    ids = zoho_emulator.client.seed(count=2)

    def throttled(module, ids, fields):
        raise ZohoTokenThrottledError("Access Denied: too many requests continuously")
        yield  # a generator, like iter_records

    monkeypatch.setattr(hook, "iter_records", throttled)
    context = make_context()
    with pytest.raises(ZohoTokenThrottledError):  # not AirflowFailException: Airflow retries apply
        dry_run_task(context, hook, module="Leads", data={"Rating": "Hot"}, ids=ids)
    assert [r["code"] for r in context["ti"].pushed["records"]] == [NOT_SENT, NOT_SENT]


def test_dry_run_reads_and_writes_nothing(zoho_crm_conn, emulator):
    hot = emulator.seed(count=1, fields={"Rating": "Hot"})
    cold = emulator.seed(count=1, fields={"Rating": "Cold"})
    ids = [*hot, "738964000009999999", *cold, *hot]
    before = emulator.records("Leads")
    op = LeadsMassUpdateOperator(task_id="preview", data={"Rating": "Hot"}, ids=",".join(ids), dry_run=True)
    assert op.is_dry_run is True
    assert callable(op.dry_run)  # BaseOperator.dry_run() (render templates only) still works
    out = run_task(op)
    assert out.state == "success", out.error
    assert out.summary["mode"] == "dry_run"
    assert [(r["id"], r["outcome"]) for r in out.records] == [
        (hot[0], "unchanged"),
        ("738964000009999999", "not_found"),
        (cold[0], "would_update"),
    ]
    assert emulator.counters()["records_changed"] == 0
    assert {e["method"] for e in crm_requests(emulator)} == {"GET"}
    assert emulator.records("Leads") == before


def test_dry_run_with_no_ids_skips(zoho_crm_conn, emulator):
    out = run_task(LeadsMassUpdateOperator(task_id="preview", data={"Rating": "Hot"}, ids="[]", dry_run=True))
    assert out.state == "skipped"
    assert out.summary["mode"] == "dry_run"
    assert crm_requests(emulator) == []
