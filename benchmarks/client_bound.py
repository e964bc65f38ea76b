"""
Client CPU per record, calls per run, ``records`` XCom size and peak memory of an ids-mode run,
against a server that costs (almost) nothing per call and against the emulator, up to 50,000 ids.

Each case is a fresh process (so its peak RSS is the task's): it starts the server, runs the operator
once to warm up, then :data:`REPEATS` times measured. Client CPU is the process's CPU time (every
thread; the server is another process) over the records. The *bound* is the time of the fewest
possible calls, ``ceil(N/500)``, at that concurrency with the server's latency and nothing else;
the *naive way* (one id per call) needs ``N`` calls, so at best ``ceil(N/in_flight)`` latencies.
*Bare loop* is the least CPU any client spends on the same calls: ``requests`` posts and
``json.loads``, nothing else, with the cyclic GC off.

Each run has a ``task_state_store`` of its own (kept as JSON), as a task on Airflow 3.3 has, so
every chunk's reply is recorded for a retry. The operator's pushes are serialized as Airflow's XCom
does (``BaseXCom.serialize_value``), timed apart: the task pays it, the client does not control it.
Peak memory per record is the process's peak RSS, that serialization included, over its RSS before
the first run.
"""

from __future__ import annotations

import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from benchmarks._support import JsonStateStore, PushedXComs, print_table

LATENCY = 0.05
RESULTS = Path(__file__).parent / "results"
#: (server, ids, calls in flight)
#: Measured runs per case (after a warm-up): CPU and wall time are their medians.
REPEATS = 3
CASES = [("fake", 10_000, 4), ("fake", 50_000, 10), ("emulator", 10_000, 4), ("emulator", 50_000, 10)]


def _start_fake() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "benchmarks.fake_zoho", "--latency", str(LATENCY)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    assert server.stdout is not None
    return server, server.stdout.readline().split(" at ", 1)[1].strip()


def bare_loop(url: str, token: str, ids: list[str], in_flight: int) -> float:
    """Send ``ids`` in chunks of 500 with plain ``requests`` and ``json.loads``; return the CPU seconds."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    session = requests.Session()
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    body = {"data": [{"Lead_Status": "Contacted"}], "over_write": False}

    def send(chunk: list[str]) -> list[Any]:
        reply = session.post(url, json={**body, "ids": chunk}, headers=headers, timeout=30)
        return cast("list[Any]", reply.json()["data"])

    chunks = [ids[i : i + 500] for i in range(0, len(ids), 500)]
    gc.disable()  # a floor: whether a full collection falls inside would make it vary 3-fold
    cpu = time.process_time()
    try:
        with ThreadPoolExecutor(in_flight) as pool:
            got = [entry for entries in pool.map(send, chunks) for entry in entries]
    finally:
        cpu = time.process_time() - cpu
        gc.enable()
    assert len(got) == len(ids)
    return cpu


def measure(server_kind: str, records: int, in_flight: int) -> dict[str, Any]:
    """Run one case in this process; return its figures."""
    import requests

    from airflow_crm_provider.testing.process import start_emulator

    ids = [str(738964000010000000 + i) for i in range(records)]
    if server_kind == "fake":
        server, url = _start_fake()
        conn = {
            "conn_type": "zoho_crm",
            "login": "1000.BENCH",
            "password": "bench-secret",
            "extra": {"refresh_token": "1000.r", "accounts_url": url, "api_url": url, "cache": "memory"},
        }
        stop = server.kill
        mass_update_url = f"{url}/crm/v8/Leads/actions/mass_update"

        def count_calls() -> int:
            return int(requests.get(f"{url}/count", timeout=5).text)

    else:
        emulator = start_emulator({"latency": LATENCY, "concurrency_limit": 10})
        ids = emulator.client.seed("Leads", count=records)
        conn = emulator.with_cache_dir(tempfile.mkdtemp(prefix="zoho-bench-")).connection_dict()
        stop = emulator.stop
        mass_update_url = f"{emulator.url}/crm/v8/Leads/actions/mass_update"

        def count_calls() -> int:
            return int(emulator.client.counters()["mass_update_posts"])

    os.environ["AIRFLOW_CONN_ZOHO_CRM_DEFAULT"] = json.dumps(conn)
    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook  # import cost is measured elsewhere
    from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator

    def run() -> PushedXComs:
        op = LeadsMassUpdateOperator(
            task_id="bench", ids=ids, data={"Lead_Status": "Contacted"}, max_concurrency=in_flight
        )
        ti = PushedXComs()
        op.execute(cast("Any", {"ti": ti, "task_state_store": JsonStateStore()}))
        return ti

    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        run()  # warm-up (token, connections, imports)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpus, serializing, walls, calls, ti = [], [], [], 0, PushedXComs()
        for _ in range(REPEATS):
            ti.pushed.clear()  # the last run's records go before this run's come
            calls_before = count_calls()
            cpu, wall = time.process_time(), time.perf_counter()
            ti = run()
            cpus.append(time.process_time() - cpu - ti.serialize_cpu)
            serializing.append(ti.serialize_cpu)
            walls.append(time.perf_counter() - wall)
            calls = max(calls, count_calls() - calls_before)
        cpu, wall = statistics.median(cpus), statistics.median(walls)
        serialize = statistics.median(serializing)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        records_xcom = len(json.dumps(ti.pushed.pop("records")))
        token = ZohoCRMHook()._tokens().get().value
        bare = statistics.median(bare_loop(mass_update_url, token, ids, in_flight) for _ in range(REPEATS))
    finally:
        stop()
    return {
        "server": server_kind,
        "records": records,
        "in_flight": in_flight,
        "wall": wall,
        "bound": math.ceil(math.ceil(records / 500) / in_flight) * LATENCY,
        "naive": math.ceil(records / in_flight) * LATENCY,
        "calls": calls,
        "min_calls": math.ceil(records / 500),
        "cpu_us": cpu / records * 1e6,
        "bare_us": bare / records * 1e6,
        "serialize_us": serialize / records * 1e6,
        "xcom_bytes": records_xcom / records,
        "peak_mib": peak / 1024,
        "peak_bytes": (peak - rss_start) * 1024 / records,
        "rss_before_mib": rss_before / 1024,
    }


def main() -> None:
    """Run every case in a fresh process; print and write the table and the chart."""
    rows = []
    for server, records, in_flight in CASES:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.client_bound", server, str(records), str(in_flight)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parents[1],
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    header = ["server", "ids", "in flight", "wall s", "bound s", "vs bound", "naive s (1 id/call)",
              "calls", "ceil(N/500)", "client CPU µs/record", "bare loop µs/record", "vs bare",
              "XCom serialize µs/record", "both µs/record", "records XCom B/record", "peak B/record",
              "peak RSS MiB"]  # fmt: skip
    table = [
        [
            r["server"], f"{r['records']:,}", r["in_flight"], f"{r['wall']:.2f}", f"{r['bound']:.2f}",
            f"{r['wall'] / r['bound']:.1f}x", f"{r['naive']:.0f}", r["calls"], r["min_calls"],
            f"{r['cpu_us']:.1f}", f"{r['bare_us']:.1f}", f"{r['cpu_us'] / r['bare_us']:.1f}x",
            f"{r['serialize_us']:.1f}", f"{r['cpu_us'] + r['serialize_us']:.1f}", f"{r['xcom_bytes']:.0f}",
            f"{r['peak_bytes']:,.0f}", f"{r['peak_mib']:.0f}",
        ]
        for r in rows
    ]  # fmt: skip
    title = f"Ids mode, {LATENCY * 1000:.0f} ms per call: client CPU, calls, XCom size, memory"
    print_table(title, header, table)
    RESULTS.mkdir(exist_ok=True)
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table]
    lines += [
        "",
        "Target: 20 µs of client CPU per record (red line in client_cpu.png). *XCom serialize* is",
        "Airflow's serialization of the pushed `records` (the task pays it, the client does not control",
        "it); *both* is the two together. *Bare loop*: `requests` and `json.loads` alone, the cyclic GC",
        "off. *Peak B/record*: peak RSS over the RSS before the first run, per record. Medians of",
        f"{REPEATS} runs after a warm-up; see the module docstring of `benchmarks/client_bound.py`.",
        "",
    ]
    (RESULTS / "client_bound.md").write_text("\n".join(lines))
    from benchmarks.png import bar_chart

    bar_chart(
        RESULTS / "client_cpu.png",
        [f"{'F' if r['server'] == 'fake' else 'E'} {r['records'] // 1000}k x{r['in_flight']}" for r in rows],
        [r["cpu_us"] for r in rows],
        [(60, 120, 200) if r["server"] == "fake" else (120, 170, 90) for r in rows],
        bound=20.0,
    )


if __name__ == "__main__":
    if len(sys.argv) == 4:
        os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="zoho-bench-home-"))
        print(json.dumps(measure(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
    else:
        main()
