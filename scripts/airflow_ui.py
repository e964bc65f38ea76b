"""
`make airflow`: Airflow's web UI on loopback with the Zoho CRM emulator, to click through the examples.

It starts the emulator, makes a throwaway Airflow home (``.airflow-ui/`` in the checkout: SQLite
metadata, the ``zoho_crm_default`` connection pointing at the emulator, the ``zoho_crm`` pool, the
``leads_staging`` SQLite connection with its tables seeded), runs ``airflow standalone`` on
127.0.0.1, prints the URL and the login, and stops everything it started on Ctrl-C (or SIGTERM).

``python scripts/airflow_ui.py [--port 8080] [--home DIR]`` (``--port 0`` picks a free port).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.process import start_emulator

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_crm_provider.testing.process import RunningEmulator

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOME = ROOT / ".airflow-ui"
#: File marking a folder as this script's throwaway home (only such a folder is ever wiped).
MARKER = ".airflow-ui-home"
USER = "admin"
POOL_SLOTS = "4"
STAGING_SEED = "airflow_crm_provider.testing.staging"
#: The line the end-to-end test waits for (after the human-readable banner).
READY = "AIRFLOW-UI-READY "
BINARY = str(Path(sys.executable).with_name("airflow"))


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_home(home: Path) -> None:
    """Empty ``home`` (only if this script made it) and mark it as ours."""
    if home.exists():
        if not (home / MARKER).exists():
            raise SystemExit(f"{home} exists and was not made by this script: choose another --home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text("made by scripts/airflow_ui.py; deleted on its next start\n")


def airflow_env(home: Path, port: int) -> dict[str, str]:
    """Return the environment of every Airflow command: this home, SQLite, loopback, Test enabled."""
    base_url = f"http://127.0.0.1:{port}"
    return {
        **os.environ,
        # standalone runs `airflow <component>` from PATH
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        # Airflow binds its log servers to every interface; free ports at least avoid clashes
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    }


def run(log: Path, command: list[str], env: Mapping[str, str]) -> None:
    """Run a setup command, its output appended to ``log``; stop, naming the log, if it fails."""
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(command[:4])} ...\n".encode())
        out.flush()
        done = subprocess.run(command, env=dict(env), cwd=ROOT, stdout=out, stderr=out, check=False)
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(Path(c).name for c in command[:3])}` failed; see {log}")


def airflow(env: Mapping[str, str], log: Path, *args: str) -> None:
    """Run one ``airflow`` CLI command (see :func:`run`)."""
    run(log, [BINARY, *args], env)


def example_connection(emulator: RunningEmulator, home: Path) -> dict[str, Any]:
    """Return ``zoho_crm_default``: the emulator, tokens cached in a file under ``home``, port 443."""
    conn = emulator.with_cache_dir(home / "tokens").connection_dict()
    conn["port"] = 443  # as the form asks: Airflow 3.3's Test button needs a stored port
    conn["description"] = "The Zoho CRM emulator started by make airflow"
    return conn


def prepare(home: Path, env: Mapping[str, str], emulator: RunningEmulator) -> str:
    """Migrate the DB, add the login, connections and pool, seed the staging tables; return the password."""
    log = home / "setup.log"
    password = secrets.token_urlsafe(12)
    (home / "passwords.json").write_text(json.dumps({USER: password}))
    airflow(env, log, "db", "migrate")
    airflow(env, log, "connections", "add", "zoho_crm_default", "--conn-json",
            json.dumps(example_connection(emulator, home)))  # fmt: skip
    staging = {"conn_type": "sqlite", "host": str(home / "staging.db"), "description": "Staging leads"}
    airflow(env, log, "connections", "add", "leads_staging", "--conn-json", json.dumps(staging))
    airflow(env, log, "pools", "set", "zoho_crm", POOL_SLOTS, "Zoho CRM calls in flight across tasks")
    if importlib.util.find_spec(STAGING_SEED) is not None:  # the one seed command of dags/README.md
        seed_env = {**env, "AIRFLOW_CONN_LEADS_STAGING": json.dumps(staging)}
        run(log, [sys.executable, "-m", STAGING_SEED], seed_env)
    return password


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Wait until the API server answers and the scheduler, DAG processor and triggerer are healthy."""
    deadline = time.monotonic() + timeout
    wanted = ("metadatabase", "scheduler", "dag_processor", "triggerer")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"airflow standalone exited with code {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/v2/monitor/health", timeout=5) as reply:  # noqa: S310
                health = json.load(reply)
            if all((health.get(part) or {}).get("status") == "healthy" for part in wanted):
                return
        except (OSError, ValueError):
            pass
        time.sleep(1)
    raise SystemExit(f"Airflow was not ready after {timeout:.0f} s; see {log}")


def stop(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """Stop standalone like Ctrl-C does, then its whole process group if anything lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        time.sleep(1)
    process.wait()


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM into the same clean stop as Ctrl-C."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run Airflow's UI until interrupted and return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--port", type=int, default=8080, help="API server port (0: a free one)")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="throwaway AIRFLOW_HOME")
    parser.add_argument("--ready-timeout", type=float, default=300.0, help="seconds to wait for Airflow")
    args = parser.parse_args(argv)
    home = args.home.resolve()
    port = args.port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    signal.signal(signal.SIGTERM, _interrupt)
    fresh_home(home)
    print(f"Setting up {home} (logs there) ...", flush=True)
    emulator = start_emulator(log_path=home / "emulator.log")
    process: subprocess.Popen[bytes] | None = None
    try:
        env = airflow_env(home, port)
        password = prepare(home, env, emulator)
        log = home / "standalone.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [BINARY, "standalone"], env=env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True
            )
        print(f"Starting airflow standalone on {base_url} ...", flush=True)
        wait_until_ready(base_url, process, log, args.ready_timeout)
        print(
            f"\nAirflow is ready: {base_url}\n  login: {USER} / {password}\n"
            f"  Zoho CRM emulator: {emulator.url} (connection zoho_crm_default)\n"
            f"  logs: {home}/standalone.log, {home}/emulator.log\nPress Ctrl-C to stop.\n",
            flush=True,
        )
        ready = {"url": base_url, "user": USER, "password": password, "emulator": emulator.url}
        print(READY + json.dumps(ready), flush=True)
        while process.poll() is None:
            time.sleep(0.5)
        print(f"airflow standalone exited with code {process.returncode}; see {log}", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Airflow and the emulator ...", flush=True)
        return 0
    finally:
        if process is not None:
            stop(process)
        emulator.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
