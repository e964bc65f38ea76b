"""The pytest fixtures, the connection they build, and the emulator's command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_crm_provider.testing.emulator import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN
from airflow_crm_provider.testing.process import start_emulator

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator


def test_zoho_crm_conn_points_airflow_at_the_emulator(
    zoho_crm_conn: str, zoho_emulator: RunningEmulator, tmp_path: Path
) -> None:
    from airflow.models.connection import Connection

    assert zoho_crm_conn == "zoho_crm_default"
    raw = os.environ["AIRFLOW_CONN_ZOHO_CRM_DEFAULT"]
    assert json.loads(raw) == {
        "conn_type": "zoho_crm",
        "login": CLIENT_ID,
        "password": CLIENT_SECRET,
        "extra": {
            "refresh_token": REFRESH_TOKEN,
            "accounts_url": zoho_emulator.url,
            "api_url": zoho_emulator.url,
            "api_version": "v8",
            "token_cache": "file",
            "token_cache_dir": str(tmp_path / "tokens"),
        },
    }
    conn = Connection.from_json(raw, conn_id=zoho_crm_conn)
    assert (conn.conn_type, conn.login, conn.password) == ("zoho_crm", CLIENT_ID, CLIENT_SECRET)
    assert conn.extra_dejson["api_url"] == zoho_emulator.url


def test_connection_variants(zoho_emulator: RunningEmulator) -> None:
    extra = json.loads(
        zoho_emulator.connection_json(auth_scheme="Bearer", api_version=None, token_cache=None)
    )["extra"]
    assert extra["auth_scheme"] == "Bearer"
    assert "api_version" not in extra
    assert "token_cache" not in extra


def test_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, airflow_crm_provider.testing.pytest_plugin as p; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'requests') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_the_command_line_applies_config(tmp_path: Path) -> None:
    with start_emulator(
        {"error_shape": "documented", "concurrency_limit": 3}, log_path=tmp_path / "log"
    ) as emulator:
        config = emulator.client.config()
        assert (config["error_shape"], config["concurrency_limit"]) == ("documented", 3)
        assert emulator.url.startswith("http://127.0.0.1:")
    assert emulator.process is not None
    assert emulator.process.poll() is not None


def test_the_command_line_rejects_bad_config() -> None:
    command = [sys.executable, "-m", "airflow_crm_provider.testing.emulator", "--config", '{"latencyy": 1}']
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown emulator settings ['latencyy']" in result.stderr


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to watch the process")
def test_the_emulator_exits_when_its_starter_is_killed() -> None:
    code = (
        "import sys; from airflow_crm_provider.testing.process import start_emulator; "
        "print(start_emulator().process.pid, flush=True); sys.stdin.read()"
    )
    starter = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert starter.stdout is not None
    emulator_pid = int(starter.stdout.readline())
    assert _running(emulator_pid)
    starter.kill()
    starter.wait()
    deadline = time.monotonic() + 30
    while _running(emulator_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(emulator_pid)
