"""
The planner on 50,000 rows: its calls and estimated credits against the two naive ways, and its CPU.

*Naive Update Records* sends every row as Update Records, 100 a call; *naive mass update* sends one
mass update per distinct value per 500 ids. The *minimum* is computed apart from the planner: a DP over
how many rows are left to Update Records for every choice of mass updates per group (20 values), or,
when every row differs, ``min over K of K + ceil((N - K)/100)`` calls (each mass update saves one row).
Credits count 1 per 10 records of an Update Records call (Zoho's figure) and 1 per mass update (a guess:
Zoho does not document it; see ``Costs``). CPU is the process time of ``check_rows`` and of ``plan``
over the rows, medians of :data:`REPEATS` runs.

*Wall vs bound*: the 20-values (uniform) and all-distinct cases run through
``LeadsUpdateRecordsOperator`` (the planned calls through the ids runner, a task-state store kept as
JSON) against the emulator at :data:`LATENCY` per call and :data:`IN_FLIGHT` calls in flight. The
*bound* is the plan's calls at that concurrency with the latency and nothing else,
``ceil(calls / in_flight) * latency``; client CPU is this process's CPU time over the rows (the
emulator is another process), XCom serialization not included.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from pathlib import Path
from typing import Any, cast

from airflow_crm_provider.runs.planner import Costs, Optimize, plan
from airflow_crm_provider.runs.rows import check_rows, value_key
from benchmarks._support import print_table

RESULTS = Path(__file__).parent / "results"
ROWS = 50_000
REPEATS = 5
#: Seconds per call of the emulator and calls in flight, for wall vs bound.
LATENCY = 0.05
IN_FLIGHT = 10


def cases() -> dict[str, list[dict[str, Any]]]:
    """The inputs: 20 values skewed (value i about 1/(i+1) of the rows), 20 values uniform, all distinct."""
    pick = random.Random(20)
    skewed = pick.choices(range(20), weights=[1 / (i + 1) for i in range(20)], k=ROWS)
    uniform = [pick.randrange(20) for _ in range(ROWS)]
    ids = [str(738964000010000000 + i) for i in range(ROWS)]
    return {
        "20 values, skewed": [
            {"id": i, "Lead_Status": f"status {v}"} for i, v in zip(ids, skewed, strict=True)
        ],
        "20 values, uniform": [
            {"id": i, "Lead_Status": f"status {v}"} for i, v in zip(ids, uniform, strict=True)
        ],
        "all distinct": [{"id": i, "No_of_Employees": n} for n, i in enumerate(ids)],
    }


def minimum(sizes: list[int], optimize: Optimize, costs: Costs) -> int:
    """The least calls or credits over every choice of mass updates per group (groups of equal values)."""
    total = sum(sizes)
    step = costs.mass_update_ids_per_call
    if all(g == 1 for g in sizes):
        options = [(k, total - k) for k in range(total + 1)]  # k one-id mass updates, the rest pooled
    else:
        inf = total + 1
        fewest = [0] + [inf] * total  # rows left to Update Records -> fewest mass updates leaving them
        for g in sizes:
            layer = [inf] * (total + 1)
            for left, mass in enumerate(fewest):
                if mass != inf:
                    for k in range(math.ceil(g / step) + 1):
                        rest = left + g - min(g, k * step)
                        layer[rest] = min(layer[rest], mass + k)
            fewest = layer
        options = [(mass, left) for left, mass in enumerate(fewest) if mass != inf]
    if optimize == "calls":
        return min(k + costs.update_calls(left) for k, left in options)
    return min(k * costs.mass_update_credits + costs.update_credits(left) for k, left in options)


def cpu(fn: Any) -> float:
    """Median process seconds of ``fn()`` over :data:`REPEATS` runs."""
    times = []
    for _ in range(REPEATS):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return statistics.median(times)


def measure(name: str, given: list[dict[str, Any]], optimize: Optimize) -> dict[str, Any]:
    """Plan one case; return its figures."""
    costs = Costs()
    rows = check_rows(given)
    sizes: dict[str, int] = {}
    for row in given:
        key = value_key({k: v for k, v in row.items() if k != "id"})
        sizes[key] = sizes.get(key, 0) + 1
    planned = plan(rows, optimize=optimize, costs=costs)
    naive_mass = sum(math.ceil(n / costs.mass_update_ids_per_call) for n in sizes.values())
    return {
        "case": name,
        "optimize": optimize,
        "values": len(sizes),
        "mass": planned.mass_update_calls,
        "update": planned.update_calls,
        "calls": len(planned.calls),
        "credits": planned.estimated_credits,
        "minimum": minimum(list(sizes.values()), optimize, costs),
        "naive_update_calls": costs.update_calls(len(rows)),
        "naive_update_credits": costs.update_credits(len(rows)),
        "naive_mass_calls": naive_mass,
        "naive_mass_credits": naive_mass * costs.mass_update_credits,
        "check_us": cpu(lambda: check_rows(given)) / len(rows) * 1e6,
        "plan_us": cpu(lambda: plan(rows, optimize=optimize, costs=costs)) / len(rows) * 1e6,
    }


def wall_vs_bound(given: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Run the 20-values (uniform) and all-distinct cases through the operator against the emulator."""
    from benchmarks._support import JsonStateStore, PushedXComs, emulator_connection

    results = []
    with emulator_connection(latency=LATENCY, concurrency_limit=IN_FLIGHT) as emulator:
        ids = emulator.client.seed("Leads", count=ROWS)
        from airflow_crm_provider.operators.update_records import LeadsUpdateRecordsOperator

        for name in ("20 values, uniform", "all distinct"):
            rows = [{**row, "id": record_id} for row, record_id in zip(given[name], ids, strict=True)]
            op = LeadsUpdateRecordsOperator(task_id="bench", rows=rows, max_concurrency=IN_FLIGHT)
            ti = PushedXComs()
            cpu, wall = time.process_time(), time.perf_counter()
            summary = op.execute(cast("Any", {"ti": ti, "task_state_store": JsonStateStore()}))
            wall = time.perf_counter() - wall
            cpu = time.process_time() - cpu - ti.serialize_cpu
            assert summary["updated"] == ROWS, summary
            calls = len(plan(check_rows(rows)).calls)
            results.append(
                {
                    "case": name,
                    "calls": calls,
                    "wall": wall,
                    "bound": math.ceil(calls / IN_FLIGHT) * LATENCY,
                    "cpu_us": cpu / ROWS * 1e6,
                }
            )
    return results


def main() -> None:
    """Run every case; print and write the table."""
    rows = [
        measure(name, given, optimize) for name, given in cases().items() for optimize in ("calls", "credits")
    ]
    header = ["case", "optimize", "mass updates", "Update Records calls", "calls", "est. credits",
              "minimum (of what is optimised)", "= minimum", "naive Update Records calls / credits",
              "naive mass update calls / credits", "check_rows µs/row", "plan µs/row"]  # fmt: skip
    table = [
        [
            f"{ROWS:,} rows, {r['case']}", r["optimize"], f"{r['mass']:,}", f"{r['update']:,}",
            f"{r['calls']:,}", f"{r['credits']:,}", f"{r['minimum']:,}",
            "yes" if r[r["optimize"]] == r["minimum"] else "NO",
            f"{r['naive_update_calls']:,} / {r['naive_update_credits']:,}",
            f"{r['naive_mass_calls']:,} / {r['naive_mass_credits']:,}",
            f"{r['check_us']:.1f}", f"{r['plan_us']:.1f}",
        ]
        for r in rows
    ]  # fmt: skip
    title = f"Planner: calls and estimated credits for {ROWS:,} rows vs the naive ways, CPU per row"
    print_table(title, header, table)
    walls = wall_vs_bound(cases())
    wall_header = ["case", "planned calls", "wall s", "bound s", "vs bound", "client CPU µs/row"]
    wall_table = [
        [
            f"{ROWS:,} rows, {w['case']}", f"{w['calls']:,}", f"{w['wall']:.2f}", f"{w['bound']:.2f}",
            f"{w['wall'] / w['bound']:.1f}x", f"{w['cpu_us']:.1f}",
        ]
        for w in walls
    ]  # fmt: skip
    wall_title = (
        f"Update Records runs against the emulator, {LATENCY * 1000:.0f} ms a call, {IN_FLIGHT} in flight"
    )
    print_table(wall_title, wall_header, wall_table)
    RESULTS.mkdir(exist_ok=True)
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table]
    lines += [
        "",
        "*Minimum* is computed apart from the planner (a DP over the rows left to Update Records, or a",
        "closed form when every row differs). Credits: 1 per 10 records of an Update Records call (Zoho),",
        "1 per mass update call (a guess: Zoho does not document it). *Naive Update Records*: every row",
        "as Update Records, 100 a call; *naive mass update*: one call per distinct value per 500 ids.",
        "When every row differs no plan beats one Update Records call per 100 rows. CPU: medians of",
        f"{REPEATS} runs; see the module docstring of `benchmarks/planner.py`.",
        "",
        f"### {wall_title}",
        "",
        "| " + " | ".join(wall_header) + " |",
        "|" + "---|" * len(wall_header),
        *("| " + " | ".join(str(c) for c in row) + " |" for row in wall_table),
        "",
        "*Bound*: the planned calls at that concurrency with the emulator's latency and nothing else,",
        "`ceil(calls / in flight) x latency`. Client CPU: this process's CPU time over the rows (the",
        "emulator is another process), one run each, XCom serialization not included.",
        "",
    ]
    (RESULTS / "planner.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
