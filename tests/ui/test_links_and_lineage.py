"""The task's extra link to Zoho CRM's web UI and its OpenLineage output, from a real run."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from airflow_crm_provider.operators.links import LINK_TARGET_KEY, ZohoCRMLink, web_base, web_url
from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator
from airflow_crm_provider.testing.emulator import defaults
from tests.operator.fakes import make_context
from tests.operator.helpers import FAST_HOOK, NOT_APPROVED, OK_1, OK_2, run_task

#: The web UI hosts per data centre (Zoho's list), production and sandbox.
WEB_HOSTS = {
    "us": "zoho.com",
    "eu": "zoho.eu",
    "in": "zoho.in",
    "au": "zoho.com.au",
    "jp": "zoho.jp",
    "cn": "zoho.com.cn",
    "ca": "zohocloud.ca",
    "sa": "zoho.sa",
    "uk": "zoho.uk",
}
VIEW = "738964000000087501"


@pytest.mark.parametrize("dc", sorted(WEB_HOSTS))
def test_web_ui_host_per_data_centre_and_environment(dc) -> None:
    assert web_base(dc, "production") == f"https://crm.{WEB_HOSTS[dc]}"
    assert web_base(dc, "developer") == f"https://crm.{WEB_HOSTS[dc]}"
    assert web_base(dc, "sandbox") == f"https://crmsandbox.{WEB_HOSTS[dc]}"


def _connect(monkeypatch, zoho_emulator, **extra) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", zoho_emulator.connection_json(**extra))


class _PullingTI:
    """The finished task instance as the link and OpenLineage see it: reads the XComs the run pushed."""

    def __init__(self, pushed, task_id="update"):
        self.pushed, self.task_id, self.map_index = pushed, task_id, -1
        self.pulls = []

    def xcom_pull(self, task_ids, key="return_value", **kwargs):
        assert task_ids == self.task_id
        self.pulls.append(key)
        return json.loads(json.dumps(self.pushed.get(key)))


@pytest.fixture
def xcom_from(monkeypatch):
    """Make ``XCom.get_value`` read one run's pushed XComs (the task SDK's XCom needs a supervisor)."""
    from airflow.sdk.execution_time.xcom import XCom

    def install(pushed):
        reads = []

        def get_value(*, ti_key, key):
            reads.append((ti_key, key))
            return json.loads(json.dumps(pushed.get(key)))

        monkeypatch.setattr(XCom, "get_value", staticmethod(get_value))
        return reads

    return install


def test_ids_run_links_to_the_module_in_the_data_centres_web_ui(monkeypatch, zoho_emulator, xcom_from):
    _connect(monkeypatch, zoho_emulator, data_center="eu", environment="sandbox")
    op = LeadsMassUpdateOperator(
        task_id="update", ids=[OK_1, OK_2, NOT_APPROVED], data={"City": "Lisbon"}, hook_params=FAST_HOOK
    )
    outcome = run_task(op)
    assert outcome.state == "success"
    target = outcome.pushed[LINK_TARGET_KEY]
    text = json.dumps(target)
    for secret in (defaults.CLIENT_SECRET, defaults.REFRESH_TOKEN):
        assert secret not in text
    reads = xcom_from(outcome.pushed)
    ti_key = SimpleNamespace(dag_id="d", task_id="update", run_id="r", map_index=-1)
    assert ZohoCRMLink().get_link(op, ti_key=ti_key) == "https://crmsandbox.zoho.eu/crm/tab/Leads"
    assert reads == [(ti_key, LINK_TARGET_KEY)]  # XCom only: no connection lookup at link time
    assert "Zoho CRM" in [link.name for link in op.operator_extra_links]


def test_one_record_links_to_its_page(monkeypatch, zoho_emulator) -> None:
    _connect(monkeypatch, zoho_emulator, data_center="in")
    op = LeadsMassUpdateOperator(task_id="update", ids=[OK_1], data={"City": "Pune"}, hook_params=FAST_HOOK)
    outcome = run_task(op)
    assert web_url(outcome.pushed[LINK_TARGET_KEY]) == f"https://crm.zoho.in/crm/tab/Leads/{OK_1}"


def test_job_run_links_to_its_custom_view(monkeypatch, zoho_emulator) -> None:
    _connect(monkeypatch, zoho_emulator, data_center="ca")
    zoho_emulator.client.configure(job_duration=0)
    op = LeadsMassUpdateOperator(
        task_id="update", cvid=VIEW, data={"Rating": "Hot"}, poll_interval=0.1, hook_params=FAST_HOOK
    )
    outcome = run_task(op)
    assert outcome.state == "success", outcome.error
    url = web_url(outcome.pushed[LINK_TARGET_KEY])
    assert url == f"https://crm.zohocloud.ca/crm/tab/Leads/custom-view/{VIEW}/list"


def test_refused_input_saves_no_link(monkeypatch, zoho_emulator) -> None:
    _connect(monkeypatch, zoho_emulator)
    outcome = run_task(LeadsMassUpdateOperator(task_id="update", ids="12x", data={"City": "X"}))
    assert outcome.state == "failed"
    # an empty target, so that the link and lineage read it without Airflow's "XCom not found" error
    assert outcome.pushed[LINK_TARGET_KEY] is None
    assert web_url(None) == ""


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"web": "https://evil.example", "module": "Leads"}, ""),
        ({"web": "http://crm.zoho.com", "module": "Leads"}, ""),
        ({"web": "https://crm.zoho.com@evil.example", "module": "Leads"}, ""),
        ({"web": "https://crm.zoho.com", "module": ""}, ""),
        (
            {"web": "https://crm.zoho.com", "module": "Leads", "cvid": "../x?y#z"},
            "https://crm.zoho.com/crm/tab/Leads/custom-view/..%2Fx%3Fy%23z/list",
        ),
        ("https://crm.zoho.com", ""),
    ],
)
def test_a_tampered_target_never_links_elsewhere(target, expected) -> None:
    assert web_url(target) == expected


def test_openlineage_output_is_the_module_with_the_runs_counts(monkeypatch, zoho_emulator) -> None:
    pytest.importorskip("airflow.providers.openlineage")
    from openlineage.client.serde import Serde

    _connect(monkeypatch, zoho_emulator)
    op = LeadsMassUpdateOperator(
        task_id="update", ids=[OK_1, OK_2, NOT_APPROVED], data={"City": "Porto"}, hook_params=FAST_HOOK
    )
    outcome = run_task(op, make_context())
    lineage = op.get_openlineage_facets_on_complete(_PullingTI(outcome.pushed))
    assert lineage.inputs == []
    (dataset,) = lineage.outputs
    assert dataset.namespace == "zoho-crm://" + zoho_emulator.url.split("://", 1)[1]
    assert dataset.name == "Leads"
    facets = Serde.to_dict(dataset)["outputFacets"]
    assert facets["outputStatistics"]["rowCount"] == 2
    mass = facets["zohoCrmMassUpdate"]
    assert {k: mass[k] for k in ("requested", "updated", "skipped", "failed", "ignored")} == {
        "requested": 3,
        "updated": 2,
        "skipped": 1,
        "failed": 0,
        "ignored": 0,
    }
    assert mass["byCode"] == {"SUCCESS": 2, "NOT_APPROVED": 1}
    assert mass["outcome"] == "success"
    assert mass["_schemaURL"].startswith("https://")


def test_openlineage_of_a_task_that_never_reached_zoho_has_no_output(monkeypatch, zoho_emulator) -> None:
    pytest.importorskip("airflow.providers.openlineage")
    _connect(monkeypatch, zoho_emulator)
    op = LeadsMassUpdateOperator(task_id="update", ids="not ids", data={"City": "X"})
    outcome = run_task(op)
    assert op.get_openlineage_facets_on_complete(_PullingTI(outcome.pushed)).outputs == []


def test_without_the_openlineage_provider_there_is_no_lineage_and_no_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)
    op = LeadsMassUpdateOperator(task_id="update", ids=[OK_1], data={"City": "X"})
    assert op.get_openlineage_facets_on_complete(_PullingTI({})) is None


def test_importing_the_operator_loads_no_openlineage() -> None:
    prefixes = ("openlineage", "airflow.providers.openlineage.")
    code = (
        "import sys, airflow_crm_provider.operators.mass_update;"
        f"print(sorted(m for m in sys.modules if m.startswith({prefixes!r})"
        "  and not m.endswith('get_provider_info')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
