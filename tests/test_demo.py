"""`make demo` (scripts/demo.py): its report agrees with the CRM, and it leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

DEMO = Path(__file__).parents[1] / "scripts" / "demo.py"
MARK = "AIRFLOW_CRM_DEMO_TEST_MARK"


def processes_marked(mark: str) -> list[int]:
    """Return the live processes whose environment carries ``mark`` (every descendant of the demo)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if f"{MARK}={mark}".encode() in environ.split(b"\0"):
            found.append(int(pid))
    return found


def wait_until_gone(mark: str, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := processes_marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-home")


def demo_env(mark: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    return {**env, MARK: mark, "PYTHONUNBUFFERED": "1"}


def test_demo_reports_what_changed_and_stops_everything(home):
    mark = uuid.uuid4().hex
    run = subprocess.run(
        [sys.executable, str(DEMO), "--leads", "300", "--home", str(home)],
        env=demo_env(mark),
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    assert "staged 304 lead candidates" in out
    assert "15 not approved, 3 locked, 3 locked once" in out
    assert "update_leads: running" in out  # progress while it ran
    assert "=== leads_mass_update_daily: run success" in out
    assert "Tasks: check_table success, check_columns success, select_batch success" in out
    # 300 generated + 4 default: 16 NOT_APPROVED, 4 locked for good; the 3 locked once are updated
    codes = dict(line.split() for line in out.split("(update_leads XCom 'records'):\n")[1].splitlines()[:3])
    assert codes == {"SUCCESS": "284", "NOT_APPROVED": "16", "RECORD_LOCKED": "4"}
    assert "Outcomes: 284 updated, 20 skipped" in out
    assert "check: the 284 ids reported updated are the 284 changed in the store: yes" in out
    assert "every updated lead holds Lead_Status = 'Contacted': yes" in out
    assert "Issues table lead_update_issues: 20 rows" in out
    assert "Zoho traffic: 1 token(s) minted" in out
    log = home / "airflow.log"
    assert f"Airflow's full log: {log}" in out
    assert "[DAG TEST]" in log.read_text()  # the flood went to the file, not the screen
    assert "[DAG TEST]" not in out
    assert "=== leads_update_records_daily: run success" in out
    assert "check: every updated lead holds its own Description: yes" in out
    assert len(out.splitlines()) < 60
    assert wait_until_gone(mark) == []


def test_ctrl_c_stops_the_run_and_everything_it_started(home):
    mark = uuid.uuid4().hex
    demo = subprocess.Popen(
        [sys.executable, str(DEMO), "--leads", "300", "--home", str(home)],
        env=demo_env(mark),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a shell job
    )
    try:
        lines = []
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("Running leads_mass_update_daily"):
                break
        time.sleep(2)  # airflow dags test is up
        assert len(processes_marked(mark)) >= 3  # the demo, the emulator, airflow dags test
        os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends to the foreground group
        out, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 130, "".join(lines) + out
    assert "Interrupted; stopping what the demo started" in out
    assert wait_until_gone(mark) == []
