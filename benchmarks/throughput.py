"""
Throughput, API calls and memory of an ids-mode run, beside the bound and the naive way.

The emulator answers every CRM call after a fixed latency, so wall time is dominated by round trips,
as against real Zoho. *Ours* is the operator (chunks of 500, ``max_concurrency`` calls in flight);
the *bound* is the time of the fewest possible calls at that concurrency, with nothing else;
*naive* sends one id per call, one call at a time (what a per-record loop does), measured on a slice
and given per record.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from typing import TYPE_CHECKING, Any, cast

from benchmarks._support import PushedXComs, emulator_connection, print_table, use_fresh_token_cache

if TYPE_CHECKING:
    from airflow.sdk import Context

LATENCY = 0.05  # seconds per CRM call
RECORDS = 10_000
NAIVE_SLICE = 100


def run_operator(
    ids: list[str], max_concurrency: int, *, trace_memory: bool = False
) -> tuple[float, dict[str, Any], int]:
    """
    Run the operator over ``ids``; return wall seconds, the summary and the peak traced bytes.

    Tracing memory slows every allocation, so a traced run's seconds are not comparable: time and
    memory come from separate runs.
    """
    from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator

    op = LeadsMassUpdateOperator(
        task_id="bench", ids=ids, data={"Lead_Status": "Contacted"}, max_concurrency=max_concurrency
    )
    ti = PushedXComs()
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    summary = op.execute(cast("Context", {"ti": ti}))
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace_memory else 0
    tracemalloc.stop()
    return elapsed, dict(summary), peak


def run_naive(ids: list[str]) -> float:
    """Send one id per call, sequentially, through the same hook; return wall seconds."""
    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook

    hook = ZohoCRMHook()
    started = time.perf_counter()
    for record_id in ids:
        hook.mass_update("Leads", {"Lead_Status": "Working"}, ids=[record_id])
    return time.perf_counter() - started


def main() -> None:
    """Run and print the throughput benchmark."""
    import airflow_crm_provider.hooks.zoho_crm  # noqa: F401  (import cost is measured elsewhere)

    with emulator_connection(latency=LATENCY, concurrency_limit=10) as emulator:
        rows = []
        for concurrency in (1, 4, 10):
            emulator.client.reset(latency=LATENCY, concurrency_limit=10)
            ids = emulator.client.seed("Leads", count=RECORDS)
            use_fresh_token_cache(emulator)
            elapsed, summary, _ = run_operator(ids, concurrency)
            calls = emulator.client.counters()["mass_update_posts"]
            use_fresh_token_cache(emulator)
            _, _, peak = run_operator(ids, concurrency, trace_memory=True)
            bound = math.ceil(math.ceil(RECORDS / 500) / concurrency) * LATENCY
            rows.append(
                [
                    f"ours, {concurrency} in flight",
                    f"{RECORDS / elapsed:,.0f}",
                    f"{elapsed:.2f}",
                    f"{bound:.2f}",
                    f"{elapsed / bound:.1f}x",
                    calls,
                    summary["updated"],
                    f"{peak / 2**20:.1f}",
                ]
            )
        naive_elapsed = run_naive(ids[:NAIVE_SLICE])
        per_record = naive_elapsed / NAIVE_SLICE
        rows.append(
            [
                "naive, 1 id per call",
                f"{1 / per_record:,.0f}",
                f"{per_record * RECORDS:.0f} (projected)",
                f"{RECORDS * LATENCY:.0f}",
                f"{per_record / LATENCY:.1f}x",
                f"{RECORDS} (projected)",
                "-",
                "-",
            ]
        )
    print_table(
        f"Ids mode, {RECORDS:,} Leads, {LATENCY * 1000:.0f} ms per call",
        ["way", "records/s", "wall s", "bound s", "vs bound", "calls", "updated", "peak MiB"],
        rows,
    )


if __name__ == "__main__":
    main()
