"""
Every code block of the README and docs/ that a user would paste: run here, run elsewhere, or why not.

Each block is known by its file and the first 40 characters of its first line. A block that
appears, changes its first line or disappears fails :func:`test_every_block_is_accounted_for`
until it is listed below.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: (page, first line) -> the test that runs the block.
RUN_HERE = {
    ("README.md", "import pendulum"): "test_the_python_dags_run_under_dags_test (both DAG blocks)",
    ("README.md", "from airflow.sdk import DAG"): "test_the_per_record_block_runs_under_dags_test",
    ("README.md", "git clone https://github.com/airflow-crm"): (
        "test_the_install_blocks_install_the_provider"
    ),
    ("README.md", "pip wheel --no-deps -w dist .           "): (
        "test_the_install_blocks_install_the_provider"
    ),
}
RUN_ELSEWHERE = {
    ("README.md", "make demo   # sets up a virtualenv from "): (
        "tests/test_demo.py runs what `make demo` runs; `make test` is the suite itself"
    ),
    ("docs/getting-started.md", "make demo"): "tests/test_demo.py",
    ("docs/getting-started.md", "export ZOHO_ACCOUNTS_URL=https://account"): (
        "tests/dags/test_getting_started.py (against the emulator)"
    ),
    ("docs/getting-started.md", "export AIRFLOW_CONN_ZOHO_CRM_DEFAULT='{\""): (
        "tests/dags/test_getting_started.py (against the emulator)"
    ),
    ("docs/ui.md", "make airflow                  # Airflow "): (
        "tests/e2e (make test-e2e) runs make airflow's script and drives its UI"
    ),
    ("docs/compose.md", "docker compose up -d --build        # fi"): "tests/deployment (make test-compose)",
    ("docs/compose.md", "docker compose exec -T airflow-scheduler"): "tests/deployment (make test-compose)",
    ("docs/compose.md", "docker compose exec -T emulator cat /opt"): (
        "tests/deployment (make test-compose) reads the emulator's CA the same way"
    ),
    ("docs/compose.md", "python3 scripts/task_records.py leads_ma"): (
        "tests/deployment/test_stack_faults.py runs it after a run with no try left"
    ),
    ("docs/compose.md", "docker compose up -d --scale airflow-wor"): "tests/deployment (make test-compose)",
}
NOT_RUNNABLE = {
    ("README.md", "export AIRFLOW_CONN_ZOHO_CRM_DEFAULT='{"): (
        "a real org's placeholders; docs/getting-started.md's same connection runs against the emulator"
    ),
    ("README.md", '{"module": "Leads", "mode": "ids", "requ'): "an XCom value shown, not code",
    ("README.md", "LeadsMassUpdateOperator("): (
        "job-mode arguments inside a DAG; dags/leads_job_mode.py is the whole, run by tests/dags"
    ),
    ("README.md", "AIRFLOW__CORE__XCOM_BACKEND=airflow.prov"): (
        "settings for an S3 bucket; the same backend with a file:// store is run by "
        "tests/dags/test_snapshot_object_storage.py"
    ),
    ("README.md", "airflow_crm_provider/"): "a directory tree, not code",
    ("docs/getting-started.md", "=== leads_mass_update_daily: run success"): (
        "the demo's output, checked by tests/test_demo.py"
    ),
    ("docs/ui.md", "Airflow is ready: http://127.0.0.1:8080"): "make airflow's output",
    ("docs/emulator.md", "def test_my_dag_updates_leads(zoho_crm_c"): (
        "a sketch of a user's own test (`...` is their task)"
    ),
}


def blocks() -> list[tuple[str, str, str]]:
    """Return ``(page, language, text)`` of every fenced block."""
    found = []
    for page in PAGES:
        for lang, text in re.findall(r"^ *```(\w*)\n(.*?)^ *```", page.read_text(), flags=re.S | re.M):
            found.append((str(page.relative_to(ROOT)), lang, text))
    return found


def _key(page: str, text: str) -> tuple[str, str]:
    return page, text.strip().splitlines()[0].strip()[:40]


def _find(page: str, first_line: str) -> list[str]:
    return [text for p, _, text in blocks() if _key(p, text) == (page, first_line)]


def test_every_block_is_accounted_for():
    listed = {**RUN_HERE, **RUN_ELSEWHERE, **NOT_RUNNABLE}
    keys = [_key(page, text) for page, _, text in blocks()]
    unlisted = [k for k in keys if k not in listed]
    assert not unlisted, f"blocks no test runs or excuses: {unlisted}"
    gone = [k for k in listed if k not in keys]
    assert not gone, f"listed blocks that are not in the docs any more: {gone}"


def test_the_python_dags_run_under_dags_test(dag_from_source, zoho_crm_conn, zoho_emulator):
    from tests.dags.conftest import states

    operator_dag, revert_dag = _find("README.md", "import pendulum")
    (dag,) = dag_from_source(operator_dag).values()
    run = dag.test()
    assert states(run) == {"qualified_leads": "success", "mark_qualified": "success"}
    assert {zoho_emulator.client.record("Leads", i)["Lead_Status"] for i in ("738964000002131001",)} == {
        "Contacted"
    }

    (dag,) = dag_from_source(revert_dag).values()
    run = dag.test()
    # every lead took the update, so the check passes and the revert (one_failed) does not run
    assert states(run) == {"update_leads": "success", "check_the_update": "success", "revert": "skipped"}


def test_the_per_record_block_runs_under_dags_test(dag_from_source, zoho_crm_conn, zoho_emulator):
    from tests.dags.conftest import states

    (source,) = _find("README.md", "from airflow.sdk import DAG")
    (dag,) = dag_from_source(source).values()
    run = dag.test()

    assert states(run) == {"push_ratings": "success", "sync_leads": "success"}
    client = zoho_emulator.client
    ratings = [client.record("Leads", i)["Rating"] for i in ("738964000002131001", "738964000002130131")]
    assert ratings == ["Active", "Shut Down"]
    assert [
        r.get("City") for r in client.records("Leads").values() if r.get("Email") == "ada@example.com"
    ] == ["London"]


@pytest.mark.slow
def test_the_install_blocks_install_the_provider(tmp_path):
    """The clone and wheel blocks, offline: `git clone` copies this checkout, pip is uv on its cache."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed next to this interpreter; run through `make test`")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    env = {**os.environ, "UV_OFFLINE": "1", "UV": uv, "VENV_PY": str(venv / "bin" / "python")}
    lock = str(ROOT / "requirements" / "lock.txt")
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", env["VENV_PY"], "-r", lock], check=True, env=env
    )
    # the commands as written, with git and pip standing in for the network and a user's pip
    shims = f"""
git() {{ test "$1" = clone && command git clone --quiet "{ROOT}" "$(basename "$2" .git)"; }}
pip() {{
  if [ "$1" = wheel ]; then "$UV" build --quiet --offline --wheel -o "$4" "$5"
  else shift; "$UV" pip install --quiet --no-deps --python "$VENV_PY" "$@"; fi
}}
"""
    clone, wheel = (_find("README.md", k[1])[0] for k in RUN_HERE if k[1].startswith(("git", "pip")))
    for block, where in ((clone, tmp_path), (wheel, tmp_path / "airflow-crm-provider")):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", shims + block],
            cwd=where,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        shown = subprocess.run(
            [env["VENV_PY"], "-c", "import airflow_crm_provider as p; print(p.__file__)"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert str(venv) in shown, "the provider must come from the venv, not the checkout"
