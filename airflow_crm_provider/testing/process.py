"""Starting the emulator in its own process, and the handle tests use to reach it."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.client import EmulatorClient
from airflow_crm_provider.testing.emulator import BANNER, defaults

if TYPE_CHECKING:
    from types import TracebackType


@dataclass
class RunningEmulator:
    """
    A reachable emulator: its URL, an admin client, and (if we started it) its process.

    :param url: base URL, e.g. ``http://127.0.0.1:54321`` (serves OAuth, CRM API and admin API).
    :param client: admin API client.
    :param process: the emulator process, when this handle started it.
    :param log_path: file receiving the process's stdout and stderr.
    :param cache_dir: token cache directory that :meth:`connection_dict` puts in the connection.
    """

    url: str
    client: EmulatorClient
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    cache_dir: str | None = None

    def with_cache_dir(self, path: str | Path) -> RunningEmulator:
        """Return the same emulator whose connections cache tokens in files under ``path``."""
        return dataclasses.replace(self, cache_dir=str(path))

    def connection_dict(self, **extra_overrides: Any) -> dict[str, Any]:
        """
        Return an Airflow ``zoho_crm`` connection (as a dict) that talks to this emulator.

        Extras: ``refresh_token``, ``accounts_url``, ``api_url``, plus ``cache_dir`` when a token cache
        directory is set (the file cache and ``v8`` are the defaults). No short extra: Airflow hands
        every extra to its secrets masker, which warns about values under 5 characters.

        :param extra_overrides: extras to set; a None value removes that extra.
        """
        extra: dict[str, Any] = {
            "refresh_token": defaults.REFRESH_TOKEN,
            "accounts_url": self.url,
            "api_url": self.url,
        }
        if self.cache_dir is not None:
            extra.update(cache_dir=self.cache_dir)
        extra.update(extra_overrides)
        return {
            "conn_type": "zoho_crm",
            "login": defaults.CLIENT_ID,
            "password": defaults.CLIENT_SECRET,
            "extra": {k: v for k, v in extra.items() if v is not None},
        }

    def connection_json(self, **extra_overrides: Any) -> str:
        """
        Return :meth:`connection_dict` as JSON, ready for ``AIRFLOW_CONN_<ID>``.

        :param extra_overrides: extras to set; a None value removes that extra.
        """
        return json.dumps(self.connection_dict(**extra_overrides))

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the emulator process if this handle started it (kill it if it lingers)."""
        self.client.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _read_banner(log_path: Path, process: subprocess.Popen[bytes], deadline: float) -> str:
    """Wait for the emulator to print its URL; raise with its output if it exits or takes too long."""
    while time.monotonic() < deadline:
        output = log_path.read_text(errors="replace") if log_path.exists() else ""
        for line in output.splitlines():
            if line.startswith(BANNER):
                return line[len(BANNER) :].strip()
        if process.poll() is not None:
            raise RuntimeError(f"the Zoho CRM emulator exited with code {process.returncode}:\n{output}")
        time.sleep(0.05)
    _kill(process)
    raise RuntimeError(f"the Zoho CRM emulator did not start in time; its output:\n{log_path.read_text()}")


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill a failed emulator and reap it (no zombie left behind)."""
    process.kill()
    process.wait()


def start_emulator(
    config: dict[str, Any] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_path: str | Path | None = None,
    startup_timeout: float = 60.0,
) -> RunningEmulator:
    """
    Start ``python -m airflow_crm_provider.testing.emulator`` in a new process and wait until it answers.

    The emulator exits by itself when this process ends, even if it is killed without cleanup. It runs
    in a session of its own, so a Ctrl-C to the caller's process group reaches the caller only.

    :param config: emulator settings that differ from the defaults.
    :param host: interface to listen on.
    :param port: TCP port; 0 (default) picks a free one.
    :param log_path: file for the process's output (default: a temporary file).
    :param startup_timeout: seconds to wait for the emulator to answer.
    :raises RuntimeError: with the process's output, when it exits or does not answer in time.
    """
    if log_path is None:
        import tempfile

        log_path = Path(tempfile.mkdtemp(prefix="zoho-emulator-")) / "emulator.log"
    log_path = Path(log_path)
    command = [sys.executable, "-m", "airflow_crm_provider.testing.emulator", "--host", host]
    command += ["--port", str(port), "--parent-pid", str(os.getpid())]
    if config:
        command += ["--config", json.dumps(config)]
    deadline = time.monotonic() + startup_timeout
    with log_path.open("wb") as log_file:
        # its own session: a Ctrl-C meant for the caller's process group does not stop it under the
        # caller's feet (the caller stops it, or it exits with the caller)
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    url = _read_banner(log_path, process, deadline)
    client = EmulatorClient(url)
    while not client.health():
        if process.poll() is not None or time.monotonic() > deadline:
            client.close()
            _kill(process)
            raise RuntimeError(f"the Zoho CRM emulator at {url} does not answer:\n{log_path.read_text()}")
        time.sleep(0.05)
    return RunningEmulator(url=url, client=client, process=process, log_path=log_path)
