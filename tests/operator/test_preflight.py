"""The preflight: one field metadata read before the first write refuses what Zoho would misreport."""

from __future__ import annotations

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator, ZohoCRMMassUpdateOperator
from airflow_crm_provider.operators.revert import ZohoCRMRevertMassUpdateOperator
from airflow_crm_provider.testing.emulator import LEADS_VIEW_ID
from tests.operator.fakes import make_context
from tests.operator.helpers import FAST_HOOK, OK_1, OK_2, crm_requests, mass_update_posts, run_task

FIELDS_PATH = "/crm/v8/settings/fields"


def leads_op(**kwargs):
    kwargs.setdefault("ids", [OK_1, OK_2])
    kwargs.setdefault("hook_params", FAST_HOOK)
    return LeadsMassUpdateOperator(task_id="update_leads", **kwargs)


def paths(emulator) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in crm_requests(emulator)]


def assert_nothing_written(out, emulator, requests=(("GET", FIELDS_PATH),)):
    """The task failed before any write: only the metadata read went out, every id is NOT_SENT."""
    assert out.state == "failed", out.error  # AirflowFailException: no Airflow retry of a bad argument
    assert mass_update_posts(emulator) == []
    assert paths(emulator) == list(requests)
    assert emulator.counters()["records_changed"] == 0
    assert [(r["id"], r["code"], r["outcome"]) for r in out.records] == [
        (OK_1, "NOT_SENT", "failed"),
        (OK_2, "NOT_SENT", "failed"),
    ]
    assert out.summary["calls"]["metadata"] == len(requests)
    assert out.summary["calls"]["mass_update"] == 0


def test_a_misspelled_field_is_refused_with_the_closest_name(zoho_crm_conn, emulator):
    out = run_task(leads_op(data={"Lead_Stauts": "Contacted"}))
    assert_nothing_written(out, emulator)
    message = str(out.error)
    assert "invalid input, nothing was sent to Zoho" in message
    assert "Leads has no field `Lead_Stauts`: did you mean `Lead_Status`?" in message
    assert "preflight=False skips this check" in message
    assert "Lead_Stauts" in out.records[0]["message"]


def test_a_read_only_field_is_refused(zoho_crm_conn, emulator):
    out = run_task(leads_op(data={"Modified_Time": "2026-01-01T00:00:00+00:00"}))
    assert_nothing_written(out, emulator)
    assert "field `Modified_Time` is read-only" in str(out.error)


def test_a_field_mass_update_cannot_set_is_refused(zoho_crm_conn, emulator):
    out = run_task(leads_op(data={"Email": "x@example.com"}))
    assert_nothing_written(out, emulator)
    assert "field `Email` cannot be set by a mass update" in str(out.error)


def test_a_picklist_value_off_the_list_is_refused(zoho_crm_conn, emulator):
    out = run_task(leads_op(data={"Lead_Status": "Contaced"}))
    assert_nothing_written(out, emulator)
    assert "picklist `Lead_Status` has no value 'Contaced' (did you mean 'Contacted'?)" in str(out.error)

    out = run_task(leads_op(data={"Product_Interest": ["CRM", "Cloud"]}, over_write=True))
    assert "picklist `Product_Interest` has no value 'Cloud'" in str(out.error)
    assert mass_update_posts(emulator) == []


def test_a_module_typo_gets_the_closest_module_of_the_org(zoho_crm_conn, emulator):
    op = ZohoCRMMassUpdateOperator(
        task_id="update", module="Lead", data={"City": "Oslo"}, ids=[OK_1, OK_2], hook_params=FAST_HOOK
    )
    out = run_task(op)
    assert_nothing_written(out, emulator, [("GET", FIELDS_PATH), ("GET", "/crm/v8/settings/modules")])
    assert "Zoho CRM has no module `Lead` in this org: did you mean `Leads`?" in str(out.error)
    assert out.summary["module"] == "Lead"


def test_another_modules_fields_are_checked_against_its_own_metadata(zoho_crm_conn, emulator):
    contact = emulator.seed("Contacts", count=1)
    op = ZohoCRMMassUpdateOperator(
        task_id="update", module="Contacts", data={"Department": "Sales"}, ids=contact, hook_params=FAST_HOOK
    )
    assert run_task(op).state == "success"
    (get,) = [e for e in crm_requests(emulator) if e["path"] == FIELDS_PATH]
    assert get["query"] == {"module": "Contacts"}

    op = ZohoCRMMassUpdateOperator(
        task_id="update",
        module="Contacts",
        data={"Lead_Status": "Contacted"},
        ids=contact,
        hook_params=FAST_HOOK,
    )
    out = run_task(op)
    assert out.state == "failed"
    assert "Contacts has no field `Lead_Status`" in str(out.error)


def test_a_passing_preflight_costs_one_counted_read_then_writes(zoho_crm_conn, emulator):
    emulator.configure(credit_budget=100)
    out = run_task(leads_op(data={"Lead_Status": "Contacted"}))
    assert out.state == "success", out.error
    assert paths(emulator) == [("GET", FIELDS_PATH), ("POST", "/crm/v8/Leads/actions/mass_update")]
    assert out.summary["calls"] == {
        "read": 0,
        "mass_update": 1,
        "update_records": 0,
        "upsert": 0,
        "status": 0,
        "metadata": 1,
        "other": 0,
    }
    assert emulator.credits()["used"] == 2
    assert emulator.record("Leads", OK_1)["Lead_Status"] == "Contacted"


def test_preflight_off_sends_the_write_unchecked(zoho_crm_conn, emulator):
    out = run_task(leads_op(data={"Lead_Status": "Hot"}, preflight=False))
    assert out.state == "success", out.error  # Zoho takes a picklist value off the list
    assert paths(emulator) == [("POST", "/crm/v8/Leads/actions/mass_update")]
    assert out.summary["calls"]["metadata"] == 0
    assert emulator.record("Leads", OK_1)["Lead_Status"] == "Hot"


def test_a_grant_without_the_metadata_scope_says_what_to_do(
    zoho_crm_conn, zoho_emulator, emulator, monkeypatch
):
    refresh = emulator.issue_refresh_token(scopes=["ZohoCRM.modules.ALL", "ZohoCRM.mass_update.ALL"])
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", zoho_emulator.connection_json(refresh_token=refresh))
    out = run_task(leads_op(data={"City": "Oslo"}))
    assert_nothing_written(out, emulator)
    message = str(out.error)
    assert "the connection's grant lacks the scope ZohoCRM.settings.fields.READ" in message
    assert "add it to the grant (a new refresh token), or set preflight=False" in message

    out = run_task(leads_op(data={"City": "Oslo"}, preflight=False))  # the way out it names
    assert out.state == "success", out.error


def test_a_dry_run_runs_the_preflight_too(zoho_crm_conn, emulator):
    out = run_task(leads_op(data={"Lead_Stauts": "Contacted"}, dry_run=True))
    assert out.state == "failed"
    assert "did you mean `Lead_Status`?" in str(out.error)
    assert paths(emulator) == [("GET", FIELDS_PATH)]  # no record read either


def test_a_job_is_not_scheduled_when_the_preflight_refuses(zoho_crm_conn, emulator):
    out = run_task(leads_op(ids=None, cvid=LEADS_VIEW_ID, data={"Rating": "Hot"}, deferrable=False))
    assert out.state == "failed"
    assert "picklist `Rating` has no value 'Hot'" in str(out.error)
    assert "its values: 'Acquired', 'Active'" in str(out.error)
    assert emulator.jobs() == []
    assert paths(emulator) == [("GET", FIELDS_PATH)]


def test_a_transient_failure_of_the_read_is_retryable(zoho_crm_conn, emulator):
    emulator.configure(burst_5xx=2)  # both attempts of the metadata read (FAST_HOOK)
    out = run_task(leads_op(data={"City": "Oslo"}))
    assert out.state == "up_for_retry"
    assert "INTERNAL_ERROR" in out.summary["reason"]
    assert "the preflight could not read the field metadata, nothing was written" in out.records[0]["message"]
    assert {r["code"] for r in out.records} == {"NOT_SENT"}
    assert mass_update_posts(emulator) == []


def test_a_revert_checks_its_fields_but_not_the_values_zoho_held(zoho_crm_conn, emulator):
    ids = emulator.seed(count=2, fields={"Lead_Status": "Hot"})  # a value since taken off the list
    out = run_task(leads_op(ids=ids, data={"Lead_Status": "Contacted"}, snapshot=True))
    assert out.state == "success", out.error
    context = make_context(upstream={"update_leads": out.pushed})

    back = run_task(revert(), context)
    assert back.state == "success", back.error  # restores "Hot": Zoho's own value, not refused
    assert {emulator.record("Leads", i)["Lead_Status"] for i in ids} == {"Hot"}

    emulator.define_fields("Leads", {"Lead_Status": {"type": "picklist", "mass_updatable": False}})
    posts = len(mass_update_posts(emulator))
    refused = run_task(revert(), make_context(upstream={"update_leads": out.pushed}))
    assert refused.state == "failed"
    assert "field `Lead_Status` cannot be set by a mass update" in str(refused.error)
    assert len(mass_update_posts(emulator)) == posts
    assert {r["code"] for r in refused.records} == {"NOT_SENT"}


def revert():
    return ZohoCRMRevertMassUpdateOperator(
        task_id="revert", source_task_id="update_leads", hook_params=FAST_HOOK
    )
