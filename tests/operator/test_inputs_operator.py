"""Every form of ``ids`` and ``data`` the operator accepts or refuses, rendered and sent to the emulator."""

from __future__ import annotations

import pytest

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator, ZohoCRMMassUpdateOperator
from tests.operator.helpers import FAST_HOOK, OK_1, OK_2, crm_requests, mass_update_posts, run_task


def leads_op(**kwargs):
    kwargs.setdefault("data", {"City": "Paris"})
    kwargs.setdefault("hook_params", FAST_HOOK)
    return LeadsMassUpdateOperator(task_id="update_leads", **kwargs)


def render(op, **context):
    op.render_template_fields(context)
    return op


@pytest.mark.parametrize(
    "ids",
    [
        [OK_1, OK_2],
        [int(OK_1), int(OK_2)],
        (OK_1, int(OK_2)),
        f'["{OK_1}", "{OK_2}"]',
        f"[{OK_1}, {OK_2}]",
        f"{OK_1},{OK_2}",
        f"{OK_1}\n{OK_2}\n",
        f"{OK_1}, {OK_1}, {OK_2}",  # duplicates dropped
    ],
)
def test_ids_forms_reach_zoho_as_strings(zoho_crm_conn, emulator, ids):
    out = run_task(leads_op(ids=ids))
    assert out.state == "success"
    (post,) = mass_update_posts(emulator)
    assert post["body"]["ids"] == [OK_1, OK_2]
    assert [r["id"] for r in out.records] == [OK_1, OK_2]


def test_ids_from_jinja_xcom_text(zoho_crm_conn, emulator):
    # what "{{ ti.xcom_pull(...) }}" renders to: the Python repr of the upstream list
    op = render(leads_op(ids="{{ upstream }}"), upstream=[OK_1, int(OK_2)])
    assert op.ids == f"['{OK_1}', {OK_2}]"
    assert run_task(op).state == "success"
    assert mass_update_posts(emulator)[0]["body"]["ids"] == [OK_1, OK_2]


def test_data_and_ids_from_params(zoho_crm_conn, emulator):
    op = leads_op(data="{{ {params.field: params.value} | tojson }}", ids="{{ params.ids }}")
    render(op, params={"field": "Rating", "value": "Active", "ids": f"{OK_1}\n{OK_2}"})
    out = run_task(op)
    assert out.state == "success"
    assert emulator.record("Leads", OK_2)["Rating"] == "Active"


def test_conn_id_and_module_are_templated(zoho_crm_conn, emulator):
    op = ZohoCRMMassUpdateOperator(
        task_id="x",
        module="{{ params.m }}",
        data={"City": "Oslo"},
        ids=[OK_1],
        zoho_crm_conn_id="{{ params.c }}",
    )
    render(op, params={"m": "Leads", "c": zoho_crm_conn})
    assert (op.module, op.zoho_crm_conn_id) == ("Leads", "zoho_crm_default")
    assert run_task(op).state == "success"


def test_duplicates_are_dropped_with_a_warning(zoho_crm_conn, emulator, caplog, capsys):
    out = run_task(leads_op(ids=[OK_1, OK_2, OK_1]))
    assert out.summary["requested"] == 2
    logged = caplog.text + capsys.readouterr().out  # the task logger goes through structlog
    assert f"Dropped 1 duplicate id(s), each id is sent once: {OK_1}" in logged


@pytest.mark.parametrize(
    ("ids", "shown"),
    [
        ([OK_1, "abc", "12x"], "'abc', '12x'"),
        (f"{OK_1}, lead-7", "'lead-7'"),
        ([OK_1, 3.0], "3.0"),
        ({"id": OK_1}, "got a mapping"),
    ],
)
def test_invalid_ids_fail_before_any_request(zoho_crm_conn, emulator, ids, shown):
    out = run_task(leads_op(ids=ids))
    assert out.state == "failed"
    assert shown in str(out.error)
    assert "nothing was sent to Zoho" in str(out.error)
    assert crm_requests(emulator) == []
    assert emulator.counters()["tokens_minted"] == 0
    assert out.summary["outcome"] == "failed"


def test_invalid_ids_still_get_one_record_each(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=[OK_1, "abc", OK_1, 3.5, "12x"]))
    assert out.state == "failed"
    assert [r["id"] for r in out.records] == [OK_1, "abc", "12x"]  # what could be named, once each
    assert {(r["code"], r["outcome"]) for r in out.records} == {("NOT_SENT", "failed")}
    assert "ids must be numeric Zoho record ids" in out.records[0]["message"]
    assert out.summary["requested"] == 3


@pytest.mark.parametrize("ids", [None, "", "[]", "None", [], "{{ params.none }}"])
def test_empty_ids_skip_without_requests(zoho_crm_conn, emulator, ids):
    op = render(leads_op(ids=ids), params={"none": None})
    out = run_task(op)
    assert out.state == "skipped"
    assert "no record ids to update after rendering `ids`" in str(out.error)
    assert crm_requests(emulator) == []
    assert emulator.counters()["tokens_minted"] == 0
    assert out.summary == {
        "module": "Leads",
        "mode": "ids",
        "requested": 0,
        "updated": 0,
        "skipped": 0,
        "failed": 0,
        "ignored": 0,
        "unchanged": 0,
        "by_code": {},
        "outcome": "skipped",
        "job_id": None,
        "reason": "no record ids to update after rendering `ids`",
        "snapshot": None,
        "calls": {
            "read": 0,
            "mass_update": 0,
            "update_records": 0,
            "upsert": 0,
            "status": 0,
            "metadata": 0,
            "other": 0,
        },
        "credits_remaining": None,
    }
    assert out.records == []


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({}, "data is empty"),
        ("Lead_Status=Contacted", "got text"),
        ([{"City": "x"}], "got list"),
        ({"Lead Status": "x"}, "field API names"),
        ({"A": 1, "B": 2, "C": 3, "D": 4}, "at most 3"),
    ],
)
def test_bad_data_fails_before_any_request(zoho_crm_conn, emulator, data, match):
    out = run_task(leads_op(ids=[OK_1, OK_2], data=data))
    assert out.state == "failed"
    assert match in str(out.error)
    assert crm_requests(emulator) == []
    assert [r["code"] for r in out.records] == ["NOT_SENT", "NOT_SENT"]
    assert "invalid input" in out.records[0]["message"]


def test_operator_init_only_assigns():
    op = LeadsMassUpdateOperator(task_id="x", data="{{ anything }}", ids="not ids at all", batch_size=10**6)
    assert op.module == "Leads"
    assert op.ids == "not ids at all"
    with pytest.raises(TypeError, match="module"):
        LeadsMassUpdateOperator(task_id="y", module="Contacts", data={"City": "x"})


def test_template_fields_render_from_context():
    fields = {
        "module": "{{ params.m }}",
        "data": {"City": "{{ params.city }}"},
        "ids": "{{ params.ids }}",
        "cvid": "{{ params.cvid }}",
        "territory_id": "{{ params.t }}",
        "zoho_crm_conn_id": "{{ params.conn }}",
    }
    params = {"m": "Contacts", "city": "Oslo", "ids": "1,2", "cvid": "3", "t": "4", "conn": "zoho_eu"}
    op = ZohoCRMMassUpdateOperator(task_id="t", **fields)
    op.render_template_fields({"params": params})
    assert (op.module, op.data, op.ids, op.cvid, op.territory_id, op.zoho_crm_conn_id) == (
        "Contacts",
        {"City": "Oslo"},
        "1,2",
        "3",
        "4",
        "zoho_eu",
    )
    leads = LeadsMassUpdateOperator(task_id="t", **{k: v for k, v in fields.items() if k != "module"})
    assert "module" not in leads.template_fields
    leads.render_template_fields({"params": params})
    assert (leads.module, leads.zoho_crm_conn_id, leads.cvid) == ("Leads", "zoho_eu", "3")


def test_unusable_connection_fails_without_requests(zoho_emulator, emulator, monkeypatch):
    conn = zoho_emulator.connection_json(api_url="ftp://example.com")
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", conn)
    out = run_task(leads_op(ids=[OK_1]))
    assert out.state == "failed"
    assert "connection 'zoho_crm_default' is not usable" in str(out.error)
    assert emulator.log() == []


def test_missing_connection_is_final(emulator, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", raising=False)
    out = run_task(leads_op(ids=[OK_1], zoho_crm_conn_id="no_such_conn"))
    assert out.state == "failed"  # no Airflow retry burnt on a connection that does not exist
    assert out.summary["outcome"] == "failed"
    assert out.records[0]["code"] == "NOT_SENT"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_in_data_are_refused_before_any_call(zoho_crm_conn, emulator, bad):
    out = run_task(leads_op(ids=["738964000002131001"], data={"Annual_Revenue": bad}))
    assert out.state == "failed"
    assert "finite" in str(out.error)
    assert mass_update_posts(emulator) == []


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        (
            {"ids": "[" * 100_000},
            "neither JSON nor a Python literal",
        ),  # RecursionError, unrefused, once
        ({"data": "{" + '"a": {' * 100_000}, "neither JSON nor a Python literal"),
        ({"ids": [10**5000]}, "numeric Zoho record ids"),  # int -> str raises past 4,300 digits
        ({"ids": b"\xff\xfe738964000002131001"}, "not UTF-8"),
        ({"data": {"Lead_Status\n": "Contacted"}}, "field API names"),  # `$` would take the newline
        ({"data": {"City": {"a": {"b": 1}}}}, "nested deeper"),
        ({"data": {"City": "\ud800"}}, "not valid Unicode"),
        ({"data": {"City": "x" * 40_000}}, "at most 32000"),
        ({"data": {"No_of_Employees": 10**40}}, "more than 32 digits"),
    ],
)
def test_hostile_inputs_are_refused_as_input(zoho_crm_conn, emulator, kwargs, reason):
    kwargs = {"ids": ["738964000002131001"], **kwargs}
    out = run_task(leads_op(**kwargs))
    assert out.state == "failed"
    assert "invalid input, nothing was sent to Zoho" in str(out.error)
    assert reason in str(out.error)
    assert out.records is not None  # every requested id still gets a record
    assert mass_update_posts(emulator) == []


def test_ids_separated_by_spaces_semicolons_commas_and_newlines_are_taken(zoho_crm_conn, emulator):
    ids = emulator.seed("Leads", count=4)
    out = run_task(leads_op(ids=f"{ids[0]}, {ids[1]};{ids[2]}\n{ids[3]}\n"))
    assert out.state == "success"
    assert [r["id"] for r in out.records] == ids
