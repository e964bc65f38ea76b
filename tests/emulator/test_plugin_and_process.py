"""The pytest fixtures, the connection they build, and the emulator's command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
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
            "cache_dir": str(tmp_path / "tokens"),
        },
    }
    conn = Connection.from_json(raw, conn_id=zoho_crm_conn)
    assert (conn.conn_type, conn.login, conn.password) == ("zoho_crm", CLIENT_ID, CLIENT_SECRET)
    assert conn.extra_dejson["api_url"] == zoho_emulator.url


def test_connection_variants(zoho_emulator: RunningEmulator) -> None:
    extra = json.loads(zoho_emulator.connection_json(auth_scheme="Bearer", api_url=None))["extra"]
    assert extra["auth_scheme"] == "Bearer"
    assert "api_url" not in extra


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


def test_the_package_outside_testing_never_imports_the_emulator() -> None:
    import airflow_crm_provider

    root = Path(airflow_crm_provider.__file__).parent
    parts = [path.relative_to(root).with_suffix("").parts for path in root.rglob("*.py")]
    modules = sorted(
        ".".join(("airflow_crm_provider", *(p[:-1] if p[-1] == "__init__" else p)))
        for p in parts
        if p[0] != "testing"
    )
    assert "airflow_crm_provider.hooks.zoho_crm" in modules
    code = (
        f"import importlib, sys\nfor name in {modules!r}:\n    importlib.import_module(name)\n"
        "print(sorted(n for n in sys.modules if n.startswith('airflow_crm_provider.testing')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to watch the process")
def test_the_session_fixture_stops_its_emulator(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    (tmp_path / "test_inner.py").write_text(
        "def test_uses_the_emulator(zoho_emulator_server):\n"
        "    assert zoho_emulator_server.client.health()\n"
        f"    open({str(pid_file)!r}, 'w').write(str(zoho_emulator_server.process.pid))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ZOHO_EMULATOR_URL"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    # stop() waits for the process, so it is gone the moment the session has ended (no grace period)
    assert not _running(int(pid_file.read_text()))


def test_a_start_that_times_out_leaves_no_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[subprocess.Popen[bytes]] = []

    class RecordingPopen(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    with pytest.raises(RuntimeError, match="did not start in time"):
        start_emulator(log_path=tmp_path / "log", startup_timeout=0)
    (process,) = started
    assert process.returncode is not None  # killed and reaped, not left as a zombie


def test_run_by_hand_it_prints_a_connection_airflow_can_use(tmp_path: Path) -> None:
    """The line the emulator prints, pasted into a shell, gives a zoho_crm_default that connects."""
    command = [sys.executable, "-m", "airflow_crm_provider.testing.emulator", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        guard = threading.Timer(60, process.kill)  # an emulator that prints less must not hang the test
        guard.start()
        try:
            lines = [process.stdout.readline() for _ in range(3)]
            (export,) = [line for line in lines if line.startswith("export AIRFLOW_CONN_ZOHO_CRM_DEFAULT=")]
            probe = (
                "from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook; "
                "print(ZohoCRMHook().test_connection())"
            )
            result = subprocess.run(
                ["bash", "-c", f'{export}\n"{sys.executable}" -c "{probe}"'],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "TMPDIR": str(tmp_path)},
            )
        finally:
            guard.cancel()
            process.terminate()
    assert result.returncode == 0, result.stderr
    assert "(True, 'Connected to Zoho CRM v8 at http://127.0.0.1:" in result.stdout
    assert "Patricia Boyle" in result.stdout


def test_the_command_lines_help_suggests_no_port_of_airflows() -> None:
    command = [sys.executable, "-m", "airflow_crm_provider.testing.emulator", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    import airflow_crm_provider.testing.emulator as package

    assert "8080" not in shown + (package.__doc__ or "")
    assert "8765" in shown


def test_a_ctrl_c_to_the_callers_group_does_not_reach_the_emulator(tmp_path: Path) -> None:
    """The caller decides when its emulator stops: a terminal's SIGINT to the group spares the emulator."""
    with start_emulator(log_path=tmp_path / "log") as emulator:
        assert emulator.process is not None
        assert os.getpgid(emulator.process.pid) != os.getpgid(0)
        assert emulator.client.health()
