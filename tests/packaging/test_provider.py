"""The provider registers with Airflow, in this environment and from a freshly built wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import airflow_crm_provider

ROOT = Path(__file__).resolve().parents[2]


def test_provider_info_lists_importable_modules() -> None:
    import importlib

    info = airflow_crm_provider.get_provider_info()
    assert info["package-name"] == "airflow-crm-provider"
    assert info["versions"] == [airflow_crm_provider.__version__]
    modules = [
        m for key in ("hooks", "operators", "triggers") for item in info[key] for m in item["python-modules"]
    ]
    for name in modules:
        importlib.import_module(name)
    (conn_type,) = info["connection-types"]
    module_name, _, class_name = conn_type["hook-class-name"].rpartition(".")
    hook_cls = getattr(importlib.import_module(module_name), class_name)
    assert conn_type["connection-type"] == hook_cls.conn_type == "zoho_crm"
    assert hook_cls.default_conn_name == "zoho_crm_default"
    assert "hidden-fields" in conn_type["ui-field-behaviour"]


def test_providers_manager_finds_the_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-crm-provider" in manager.providers
    hook_info = manager.hooks["zoho_crm"]
    assert hook_info is not None
    assert hook_info.hook_class_name == "airflow_crm_provider.hooks.zoho_crm.ZohoCRMHook"


@pytest.mark.slow
def test_built_wheel_registers_in_a_clean_environment(tmp_path: Path) -> None:
    """Build the wheel, install it with the locked dependencies (offline, from uv's cache), list it."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed next to this interpreter; run through `make test`")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("airflow_crm_provider-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "airflow_crm_provider/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "dags/", "benchmarks/"))]

    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {**os.environ, "UV_OFFLINE": "1"}
    install = [uv, "pip", "install", "--quiet", "--python", str(python)]
    subprocess.run([*install, "-r", str(ROOT / "requirements" / "lock.txt")], check=True, env=env)
    subprocess.run([*install, "--no-deps", str(wheel)], check=True, env=env)

    airflow_home = tmp_path / "airflow_home"
    run_env = {**os.environ, "AIRFLOW_HOME": str(airflow_home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    run_env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    out = subprocess.run(
        [str(venv / "bin" / "airflow"), "providers", "list", "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
        env=run_env,
        cwd=tmp_path,
    ).stdout
    listed = {p["package_name"]: p for p in json.loads(out[out.index("[") :])}
    assert listed["airflow-crm-provider"]["version"] == airflow_crm_provider.__version__
    location = subprocess.run(
        [str(python), "-c", "import airflow_crm_provider; print(airflow_crm_provider.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert str(venv) in location, "the provider must come from the wheel, not the checkout"
