"""
A user's journey through Airflow's UI in Chromium, asserting what the user sees (tests run in order).

Connection form -> Test (success) -> a broken secret shows Zoho's reason -> restored; then the
on-demand DAG through its Params form, its XComs, a refused id, the deferrable job DAG and the
task's extra link. Screenshots of every step go to ``.e2e-screenshots/``.
"""

from __future__ import annotations

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
    dialog.get_by_text("empty: from the data centre", exact=False).first.wait_for()  # hints are visible
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
