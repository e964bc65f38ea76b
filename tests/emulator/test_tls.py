"""The emulator over https with its private CA (how a stack reaches it off loopback)."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
import requests

from airflow_crm_provider.testing.emulator import BANNER
from airflow_crm_provider.testing.emulator.tls import ensure_certificates

if TYPE_CHECKING:
    from pathlib import Path


def test_certificates_are_made_once_and_renewed_for_new_hosts(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path / "tls", ["emulator"])
    ca = first.ca.read_bytes()
    assert first.key.stat().st_mode & 0o077 == 0
    assert ensure_certificates(tmp_path / "tls", ["emulator"]).ca.read_bytes() == ca
    assert first.bundle.read_bytes().endswith(ca)
    assert ensure_certificates(tmp_path / "tls", ["emulator", "127.0.0.1"]).ca.read_bytes() != ca
    with pytest.raises(ValueError, match="at least one host"):
        ensure_certificates(tmp_path / "other", [])


def test_the_emulator_serves_https_trusted_through_its_bundle_only(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "airflow_crm_provider.testing.emulator", "--port", "0"]
    command += ["--tls", str(tmp_path / "tls"), "--tls-host", "127.0.0.1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(BANNER + "https://127.0.0.1:"), line
        url = line[len(BANNER) :].strip() + "/__emulator__/health"
        bundle = str(tmp_path / "tls" / "ca-bundle.pem")
        assert requests.get(url, verify=bundle, timeout=10).json() == {"status": "ok"}
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(url, timeout=10)  # the public roots alone do not trust it
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url.replace("https://", "http://"), timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_tls_host_needs_tls() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "airflow_crm_provider.testing.emulator", "--tls-host", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "--tls-host needs --tls DIR" in done.stderr
