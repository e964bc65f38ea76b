"""What Admin -> Providers and a registry page show: complete provider info and project URLs."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib.metadata import metadata
from pathlib import Path

import airflow_crm_provider
from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator, ZohoCRMMassUpdateOperator

ROOT = Path(__file__).resolve().parents[2]


def _project_urls() -> dict[str, str]:
    urls = metadata("airflow-crm-provider").get_all("Project-URL") or []
    return {name.strip(): url.strip() for name, url in (entry.split(",", 1) for entry in urls)}


def test_package_metadata_has_documentation_source_and_changelog_urls() -> None:
    urls = _project_urls()
    assert {"Documentation", "Source", "Changelog"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    source = urls["Source"]
    assert urls["Documentation"].startswith(source)
    changelog = urls["Changelog"]
    assert changelog.startswith(f"{source}/blob/main/")
    assert (ROOT / changelog.removeprefix(f"{source}/blob/main/")).is_file()


def test_provider_info_is_complete_and_its_classes_import() -> None:
    from airflow.sdk import BaseOperatorLink

    info = airflow_crm_provider.get_provider_info()
    assert info["name"] == "Zoho CRM"
    assert info["description"]
    assert info["versions"] == [airflow_crm_provider.__version__]
    (trigger,) = info["triggers"]
    for module in trigger["python-modules"]:
        importlib.import_module(module)
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "zoho_crm"
    (link_path,) = info["extra-links"]
    module_name, _, class_name = link_path.rpartition(".")
    link_cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(link_cls, BaseOperatorLink)
    for operator in (ZohoCRMMassUpdateOperator, LeadsMassUpdateOperator):
        assert [type(link) for link in operator.operator_extra_links] == [link_cls]


def test_airflow_providers_get_shows_it_all(tmp_path) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    run = subprocess.run(
        [airflow, "providers", "get", "airflow-crm-provider", "--full", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    (shown,) = json.loads(run.stdout)
    info = airflow_crm_provider.get_provider_info()
    for key in ("name", "versions", "connection-types", "extra-links", "triggers"):
        assert shown[key] == info[key]
    assert shown["description"] == info["description"].rstrip(".")  # Airflow drops the final period
    # Airflow 3.1 keeps the space after the comma of "Documentation, <url>" (browsers trim it in links)
    assert shown["documentation-url"].strip() == _project_urls()["Documentation"]
