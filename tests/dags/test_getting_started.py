"""The commands of docs/getting-started.md, run as written (the user's values swapped for the emulator's)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_crm_provider.testing.emulator import CLIENT_ID, CLIENT_SECRET, EMULATOR_GRANT_CODE

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "getting-started.md"
#: The placeholders of the doc -> what they are against the emulator.
PLACEHOLDERS = {
    "1000.XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX": CLIENT_ID,
    "your-client-secret": CLIENT_SECRET,
    "1000.your-grant-code": EMULATOR_GRANT_CODE,
}


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S)


def run_block(block: str, env: dict[str, str], replace: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for old, new in replace.items():
        assert old in block, f"{old!r} is not in the block any more"
        block = block.replace(old, new)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env(airflow_db, zoho_emulator, tmp_path):
    """The test session's Airflow environment, the venv's commands first, a token cache of this test."""
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "TMPDIR": str(tmp_path)}


def test_the_doc_has_exactly_the_blocks_these_tests_run():
    commands = [b.split() for b in bash_blocks()]
    assert commands[0] == ["make", "demo"]  # tests/test_demo.py runs what `make demo` runs
    assert len(bash_blocks()) == 3
    makefile = (ROOT / "Makefile").read_text()
    assert "demo: install\n\t$(VENV)/bin/python scripts/demo.py\n" in makefile
    assert re.search(r"^test: ", makefile, flags=re.M)


def exchange(env, url: str) -> subprocess.CompletedProcess[str]:
    return run_block(bash_blocks()[1], env, {"https://accounts.zoho.eu": url, **PLACEHOLDERS})


def connection_test(env, url: str, refresh_token: str, **swap: str) -> subprocess.CompletedProcess[str]:
    replace = {
        "1000.your-refresh-token": refresh_token,
        '"data_center": "eu"': f'"accounts_url": "{url}", "api_url": "{url}"',
        **PLACEHOLDERS,
        **swap,
    }
    replace.pop("1000.your-grant-code")
    return run_block(bash_blocks()[2], env, replace)


def test_the_grant_code_exchange_and_the_connection_test(env, zoho_emulator):
    exchanged = exchange(env, zoho_emulator.url)
    assert exchanged.returncode == 0, exchanged.stderr
    reply = json.loads(exchanged.stdout)
    assert reply["refresh_token"]
    assert "ZohoCRM" in reply["scope"]

    tested = connection_test(env, zoho_emulator.url, reply["refresh_token"])
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "Connection success!" in tested.stdout

    again = exchange(env, zoho_emulator.url)  # a grant code works once
    assert json.loads(again.stdout) == {"error": "invalid_code"}


def troubleshooting_row(symptom: str) -> str:
    (row,) = [line for line in DOC.read_text().splitlines() if line.startswith("| `") and symptom in line]
    return row.split("`")[1]


def test_the_troubleshooting_messages_are_what_users_see(env, zoho_emulator):
    url = zoho_emulator.url
    refresh_token = json.loads(exchange(env, url).stdout)["refresh_token"]

    wrong_secret = connection_test(env, url, refresh_token, **{"your-client-secret": "not-the-secret"})
    assert "Connection failed!" in wrong_secret.stdout  # exit code 1 on Airflow 3.3, 0 on 3.1
    assert troubleshooting_row("invalid_client") in wrong_secret.stdout

    revoked = connection_test(env, url, "1000.revoked-refresh-token")
    assert troubleshooting_row("invalid_code") in revoked.stdout

    zoho_emulator.client.configure(mint_limit=0)
    throttled = connection_test(env, url, refresh_token)
    first, last = troubleshooting_row("access tokens per 10 minutes").split(" ... ")
    assert first in throttled.stdout
    assert last in throttled.stdout
