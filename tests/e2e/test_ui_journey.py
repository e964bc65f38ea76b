"""
A user's journey through Airflow's UI in Chromium, asserting what the user sees (tests run in order).

Connection form -> Test (success) -> a broken secret shows Zoho's reason -> restored; then the
on-demand DAG through its Params form, its XComs, a refused id, the deferrable job DAG and the
task's extra link. Screenshots of every step go to ``.e2e-screenshots/``.
"""

from __future__ import annotations

import json
import re

import pytest

from airflow_crm_provider.testing.emulator import defaults

pytestmark = pytest.mark.e2e
CONN_ID = "zoho_crm_ui"


def _toast(page, title: str):
    toast = page.get_by_role("status").filter(has_text=title).last
    toast.wait_for()
    return toast


def _press_test(page, conn_id: str):
    page.goto("/connections")
    row = page.get_by_role("row").filter(has_text=conn_id)
    row.get_by_role("button", name="Test Connection").click()


def _edit_secret(page, conn_id: str, secret: str) -> None:
    page.goto("/connections")
    page.get_by_role("row").filter(has_text=conn_id).get_by_role("button", name="Edit Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=password]").fill(secret)
    dialog.get_by_role("button", name="Save").click()
    dialog.wait_for(state="hidden")


def test_log_in(page, airflow_ui, shot) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(airflow_ui["user"])
    page.get_by_label("Password").fill(airflow_ui["password"])
    shot(page, "login")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Dags").first.wait_for()
    shot(page, "home")


def test_add_a_zoho_crm_connection_through_the_form(page, airflow_ui, shot) -> None:
    page.goto("/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=connection_id]").fill(CONN_ID)
    kind = dialog.get_by_role("combobox").first
    kind.click()
    kind.fill("Zoho")
    page.get_by_role("option", name="Zoho CRM").click()
    # the form speaks Zoho: relabelled standard fields, the port the Test button needs
    for label in ("Client ID", "Client Secret", "Port (443)"):
        dialog.get_by_text(label, exact=True).wait_for()
    assert dialog.locator("input[name=host]").count() == 0
    dialog.locator("input[name=login]").fill(defaults.CLIENT_ID)
    dialog.locator("input[name=password]").fill(defaults.CLIENT_SECRET)
    port = dialog.locator("input[name=port]")
    assert port.get_attribute("placeholder").startswith("443")
    port.fill("443")
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    assert dialog.locator("#element_refresh_token").get_attribute("type") == "password"
    dialog.get_by_text(
        "Leave empty to use the data centre", exact=False
    ).first.wait_for()  # hints are visible
    dialog.locator("#element_refresh_token").fill(defaults.REFRESH_TOKEN)
    dialog.locator("#element_accounts_url").fill(airflow_ui["emulator"])
    dialog.locator("#element_api_url").fill(airflow_ui["emulator"])
    shot(page, "connection-form")
    dialog.get_by_role("button", name="Save").click()
    dialog.wait_for(state="hidden")
    row = page.get_by_role("row").filter(has_text=CONN_ID)
    assert "zoho_crm" in row.inner_text()
    shot(page, "connection-saved")


def test_the_test_button_says_connected(page, airflow_ui, shot) -> None:
    _press_test(page, CONN_ID)
    toast = _toast(page, "Test Connection Successful")
    assert re.search(r"Connected to Zoho CRM v8 at \S+ as ", toast.inner_text())
    shot(page, "test-ok")


def test_a_broken_secret_shows_zohos_reason(page, shot) -> None:
    _edit_secret(page, CONN_ID, "not-the-client-secret")
    _press_test(page, CONN_ID)
    toast = _toast(page, "Test Connection Failed")
    text = toast.inner_text()
    assert "invalid_client" in text
    assert "not-the-client-secret" not in text
    shot(page, "test-bad-secret")


def test_the_restored_secret_connects_again(page, shot) -> None:
    _edit_secret(page, CONN_ID, defaults.CLIENT_SECRET)
    _press_test(page, CONN_ID)
    _toast(page, "Test Connection Successful")
    shot(page, "test-restored")


ON_DEMAND, JOB_DAG = "leads_mass_update_on_demand", "leads_mass_update_job_mode"
DEFAULT_IDS = "738964000002131001\n738964000002130131"
VIEW = "738964000000087501"
RUN_TIMEOUT = 240_000
#: Where the run pages are, for the later steps.
RUNS: dict[str, str] = {}


def _open_trigger_form(page, dag_id: str):
    page.goto(f"/dags/{dag_id}")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Trigger", exact=True).wait_for()
    return dialog


def _trigger(page, dialog, dag_id: str) -> str:
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    page.wait_for_url(f"**/dags/{dag_id}/runs/**")
    RUNS[dag_id] = page.url.split(page.url.split("/dags/")[0], 1)[1]
    return RUNS[dag_id]


def _task_row(page, task_id: str):
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=task_id, exact=True))


def _wait_state(page, task_id: str, state: str, timeout: float = RUN_TIMEOUT) -> None:
    """Wait until the run page's task table shows ``state`` for the task (the page refreshes itself)."""
    _task_row(page, task_id).filter(has_text=state).wait_for(timeout=timeout)


def test_trigger_the_on_demand_dag_with_the_forms_defaults(page, shot) -> None:
    dialog = _open_trigger_form(page, ON_DEMAND)
    assert dialog.locator("#element_ids").input_value() == DEFAULT_IDS  # a textarea: newlines survive
    assert dialog.locator("#element_value").input_value() == "Lisbon"
    shot(page, "on-demand-form")
    _trigger(page, dialog, ON_DEMAND)
    _wait_state(page, "update_leads", "Success")
    _wait_state(page, "report", "Success")
    header = page.get_by_role("heading").filter(has_text="manual__").first
    header.locator("..").get_by_text("Success").first.wait_for()
    assert "Failed" not in page.locator("body").inner_text()
    shot(page, "on-demand-run-green")


def test_the_xcom_view_shows_the_summary_and_every_record(page, shot) -> None:
    page.goto(f"{RUNS[ON_DEMAND]}/tasks/update_leads/xcom")
    summary = page.get_by_role("row").filter(has_text="return_value")
    summary.get_by_role("button", name="Copy to clipboard").wait_for()
    page.get_by_role("button", name="Expand all extra JSON").click()
    summary.get_by_text('"by_code"').wait_for()
    text = summary.inner_text().replace("\xa0", " ")
    assert re.search(r'"by_code"\s*:\s*\{\s*"SUCCESS"\s*:\s*2', text), text
    assert re.search(r'"outcome"\s*:\s*"success"', text)
    records = page.get_by_role("row").filter(has_text="records").first
    assert f'"id": "{DEFAULT_IDS.split()[0]}"' in records.inner_text().replace("\xa0", " ")
    shot(page, "on-demand-xcom")
    # the value box shows a window of lines; the whole list is what its Copy button copies
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    records.get_by_role("button", name="Copy to clipboard").click()
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert [(r["id"], r["code"], r["outcome"]) for r in copied] == [
        (lead, "SUCCESS", "updated") for lead in DEFAULT_IDS.split()
    ]


def test_the_form_refuses_an_invalid_id(page, shot) -> None:
    dialog = _open_trigger_form(page, ON_DEMAND)
    dialog.locator("#element_ids").fill("738964000002131001\n12ab")
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    error = dialog.get_by_text("Invalid input for param ids")
    error.wait_for()
    assert "12ab" in error.inner_text()
    _toast(page, "Failed to Trigger Dag")
    assert "/runs/" not in page.url  # no run was created
    error.scroll_into_view_if_needed()
    shot(page, "on-demand-invalid-id")
    dialog.get_by_role("button", name="Close").click()


def test_the_job_dag_defers_then_completes_through_the_triggerer(page, airflow_ui, shot) -> None:
    from airflow_crm_provider.testing.client import EmulatorClient

    emulator = EmulatorClient(airflow_ui["emulator"])
    try:
        emulator.configure(job_duration=12)  # a job slow enough to watch the deferral
    finally:
        emulator.close()
    dialog = _open_trigger_form(page, JOB_DAG)
    _trigger(page, dialog, JOB_DAG)
    _wait_state(page, "update_view", "Deferred")
    shot(page, "job-deferred")
    _wait_state(page, "update_view", "Success")
    shot(page, "job-done")


def test_the_job_id_reads_and_copies_exactly(page, airflow_ui, shot) -> None:
    """18-digit ids exceed a JavaScript number: the XCom view must show and copy them as written."""
    from airflow_crm_provider.testing.client import EmulatorClient

    emulator = EmulatorClient(airflow_ui["emulator"])
    try:
        job_id = emulator.jobs()[-1]["job_id"]
    finally:
        emulator.close()
    assert len(job_id) == 18
    page.goto(f"{RUNS[JOB_DAG]}/tasks/update_view/xcom")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("row").filter(has_text="job_id").first.get_by_role(
        "button", name="Copy to clipboard"
    ).wait_for()
    page.get_by_role("button", name="Expand all extra JSON").click()
    for key in ("job_id", "return_value"):
        row = page.get_by_role("row").filter(has_text=key).first
        row.get_by_text(job_id).first.wait_for()
        assert re.search(rf'"job_id"\s*:\s*"{job_id}"', row.inner_text().replace("\xa0", " ")), key
        row.get_by_role("button", name="Copy to clipboard").click()
        assert json.loads(page.evaluate("navigator.clipboard.readText()"))["job_id"] == job_id
    shot(page, "job-xcom-ids")


def test_the_extra_link_opens_the_custom_view_in_zoho_crm(page, shot) -> None:
    expected = f"https://crm.zoho.com/crm/tab/Leads/custom-view/{VIEW}/list"
    # no internet here: Zoho's web UI answers with a stand-in page, the URL is what counts
    page.context.route("https://crm.zoho.com/**", lambda route: route.fulfill(body="<h1>Zoho CRM</h1>"))
    page.goto(f"{RUNS[JOB_DAG]}/tasks/update_view/details")
    link = page.get_by_role("link", name="Zoho CRM", exact=True)
    assert link.get_attribute("href") == expected
    shot(page, "job-extra-link")
    with page.context.expect_page() as opened:
        link.click()
    zoho = opened.value
    zoho.wait_for_load_state()
    assert zoho.url == expected
    zoho.close()
