"""
What importing the operator costs a DAG file at parse time, beside importing the Airflow SDK alone.

DAG processors import every DAG file often, so the operator module must not pull in the hook's
HTTP stack eagerly, aiohttp, FastAPI or the emulator.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

from benchmarks._support import print_table

#: The imports a task process makes, in order: each one timed on top of those before it.
STEPS = ("airflow.sdk", "airflow_crm_provider.operators.mass_update", "airflow_crm_provider.hooks.zoho_crm")
PROBE = """
import json, sys, time
out = []
for module in {steps!r}:
    started = time.perf_counter()
    __import__(module)
    elapsed = time.perf_counter() - started
    heavy = [m for m in ("fastapi", "uvicorn", "aiohttp", "airflow_crm_provider.testing") if m in sys.modules]
    out.append({{"seconds": elapsed, "modules": len(sys.modules), "heavy": heavy}})
print(json.dumps(out))
"""
RUNS = 5


def measure() -> list[dict[str, Any]]:
    """Import :data:`STEPS` in turn in fresh interpreters; per step: median seconds, modules, heavy ones."""
    runs = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(steps=STEPS)], capture_output=True, text=True, check=True
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return [
        {
            "seconds": statistics.median(float(run[step]["seconds"]) for run in runs),
            "modules": runs[-1][step]["modules"],
            "heavy": runs[-1][step]["heavy"],
        }
        for step in range(len(STEPS))
    ]


def main() -> None:
    """Run and print the import-cost benchmark."""
    sdk, operator, hook = measure()
    rows = [
        ["airflow.sdk (every DAG file pays this)", f"{sdk['seconds'] * 1000:.0f}", sdk["modules"], "-"],
        [
            "the operator, on top of airflow.sdk",
            f"{operator['seconds'] * 1000:.0f}",
            operator["modules"],
            ", ".join(operator["heavy"]) or "none",
        ],
        [
            "the hook, on top of both (deferred to execute())",
            f"{hook['seconds'] * 1000:.0f}",
            hook["modules"],
            ", ".join(hook["heavy"]) or "none",
        ],
    ]
    print_table(
        f"Import cost at DAG parse time (median of {RUNS} fresh interpreters)",
        ["import", "ms", "modules loaded after", "heavy modules loaded"],
        rows,
    )


if __name__ == "__main__":
    main()
