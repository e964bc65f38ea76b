"""Fifty task processes start at once on one connection: exactly one access token is minted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

PROCESSES = 50
STORM = r"""
import json, multiprocessing, os, sys
from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook  # imported once, then forked

def one(barrier):
    barrier.wait(60)
    hook = ZohoCRMHook(max_token_wait=60.0)
    return len(hook.get_records("Leads", ["738964000002131001"], ["Lead_Status"]))

if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(int(sys.argv[1]))
    workers = [context.Process(target=one, args=(barrier,)) for _ in range(int(sys.argv[1]))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    print(json.dumps([w.exitcode for w in workers]))
"""


def _storm(zoho_emulator, tmp_path: Path, **extras) -> list[int]:
    client = zoho_emulator.client
    app = f"1000.STORM{uuid.uuid4().hex[:12].upper()}"  # a new app: no token cached anywhere yet
    secret = uuid.uuid4().hex
    refresh = client.issue_refresh_token(client_id=app, client_secret=secret)
    client.configure(mint_limit=1000)
    conn = json.loads(zoho_emulator.connection_json(refresh_token=refresh, **extras))
    conn.update(login=app, password=secret)
    env = {**os.environ, "AIRFLOW_CONN_ZOHO_CRM_DEFAULT": json.dumps(conn)}
    script = tmp_path / "storm.py"
    script.write_text(STORM)
    out = subprocess.run(
        [sys.executable, str(script), str(PROCESSES)], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_fifty_processes_file_cache_one_mint(zoho_emulator, tmp_path):
    exits = _storm(zoho_emulator, tmp_path, cache="file", cache_dir=str(tmp_path / "tokens"))

    assert exits == [0] * PROCESSES
    assert zoho_emulator.client.counters()["tokens_minted"] == 1


@pytest.mark.slow
@pytest.mark.redis
def test_fifty_processes_redis_cache_one_mint(zoho_emulator, tmp_path, redis_url):
    exits = _storm(zoho_emulator, tmp_path, cache=redis_url, cache_dir=None)

    assert exits == [0] * PROCESSES
    assert zoho_emulator.client.counters()["tokens_minted"] == 1
