"""
Access-token mints when 20 task processes start at once: shared cache versus one token per process.

Zoho lets a refresh token mint 10 access tokens per 10 minutes; the 11th answer is "Access Denied".
*Ours* is the default file cache (one host) with its single-flight lock; *naive* is a per-process
cache (``cache: memory``), which is what a hook without a shared cache does. The task processes are
forked with the hook already imported, as Airflow's supervisor forks them, so a task's seconds are
its token and its call, not its imports.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from benchmarks._support import emulator_connection, print_table

PROCESSES = 20


def one_task(connection: str) -> float:
    """Play one task process: read two records through a fresh hook; return its seconds."""
    os.environ["AIRFLOW_CONN_ZOHO_CRM_DEFAULT"] = connection
    started = time.perf_counter()
    ZohoCRMHook(max_token_wait=0.0).get_records("Leads", ["738964000002131001"], ["Lead_Status"])
    return time.perf_counter() - started


def run(connection: str) -> float:
    """Run the task processes at once; return the slowest one's seconds."""
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        return max(pool.map(one_task, [connection] * PROCESSES))


def main() -> None:
    """Run and print the token benchmark."""
    rows = []
    with emulator_connection(mint_limit=1000) as emulator:
        for way, overrides in (
            ("ours: shared file cache", {}),
            ("naive: cache per process", {"cache": "memory"}),
        ):
            emulator.client.reset(mint_limit=1000)
            conn = json.loads(emulator.connection_json(**overrides))
            slowest = run(json.dumps(conn))
            minted = emulator.client.counters()["tokens_minted"]
            rows.append([way, PROCESSES, minted, f"{minted / 10:.1f}", f"{slowest:.2f}"])
    print_table(
        f"Token mints for {PROCESSES} concurrent task processes",
        ["way", "processes", "mints", "share of Zoho's 10-per-10-min", "slowest task s"],
        rows,
    )


if __name__ == "__main__":
    main()
