"""
Fixtures of the browser tests: `make airflow`'s setup on loopback, and Debian's Chromium via Playwright.

The tests run only under ``make test-e2e`` (which installs Chromium and sets ``AIRFLOW_CRM_E2E=1``);
where Chromium cannot be installed or started they skip and say so.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".e2e-screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
READY = "AIRFLOW-UI-READY "
START_TIMEOUT = 420.0


def pytest_collection_modifyitems(config, items) -> None:
    if os.environ.get("AIRFLOW_CRM_E2E") == "1":
        return
    skip = pytest.mark.skip(reason="browser tests run with `make test-e2e` (AIRFLOW_CRM_E2E=1)")
    for item in items:
        if "tests/e2e/" in item.path.as_posix():
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download); skips where it cannot start."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (dev group of the lock)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt package `chromium`; `make test-e2e` installs it)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Error as err:
            pytest.skip(f"Chromium at {CHROMIUM} does not start: {err.message.splitlines()[0]}")
        yield chromium
        chromium.close()


def _port_open(url: str) -> bool:
    host, port = url.rsplit("//", 1)[1].split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


@pytest.fixture(scope="session")
def airflow_ui(browser, tmp_path_factory) -> Iterator[dict[str, str]]:
    """
    Run `make airflow`'s script on a free port; stop it (as Ctrl-C would) and check it stopped.

    While developing a test, ``AIRFLOW_CRM_E2E_READY=<the script's ready JSON>`` reuses a running one.
    """
    if os.environ.get("AIRFLOW_CRM_E2E_READY"):
        yield json.loads(os.environ["AIRFLOW_CRM_E2E_READY"])
        return
    home = tmp_path_factory.mktemp("airflow-ui") / "home"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "airflow_ui.py"), "--port", "0", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    deadline, ready, output = time.monotonic() + START_TIMEOUT, None, []
    try:
        while ready is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if line.startswith(READY):
                ready = json.loads(line[len(READY) :])
        if ready is None:
            log = (home / "standalone.log").read_text(errors="replace")[-3000:] if home.exists() else ""
            pytest.fail(f"make airflow did not get ready:\n{''.join(output)}\n{log}")
        yield ready
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=90)
    assert process.returncode == 0, rest
    assert "Stopped." in rest
    assert not _port_open(ready["url"]), "the API server still listens after make airflow stopped"
    assert not _port_open(ready["emulator"]), "the emulator still listens after make airflow stopped"


@pytest.fixture(scope="session")
def page(browser, airflow_ui) -> Iterator[Any]:
    """One browser tab for the whole user journey (the tests below run in order)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=airflow_ui["url"])
    context.set_default_timeout(30_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def shot() -> Callable[[Any, str], None]:
    """Save a screenshot of what the user sees to ``.e2e-screenshots/<n>-<name>.png``."""
    SHOTS.mkdir(exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    count = iter(range(1, 100))

    def take(tab, name: str) -> None:
        tab.screenshot(path=str(SHOTS / f"{next(count):02d}-{name}.png"))

    return take
