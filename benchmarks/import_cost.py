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

PROBE = """
import json, sys, time
import {already}
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
heavy = [m for m in ("fastapi", "uvicorn", "aiohttp", "airflow_crm_provider.testing") if m in sys.modules]
print(json.dumps({{"seconds": elapsed, "modules": len(sys.modules), "heavy": heavy}}))
"""
RUNS = 5


def measure(module: str, already: str = "sys") -> dict[str, Any]:
    """
    Import ``module`` in fresh interpreters; return the median seconds, module count, heavy modules.

    :param module: what to time.
    :param already: what is imported first, untimed (what any DAG file has loaded anyway).
    """
    results = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module, already=already)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "seconds": statistics.median(float(r["seconds"]) for r in results),
        "modules": results[-1]["modules"],
        "heavy": results[-1]["heavy"],
    }


def main() -> None:
    """Run and print the import-cost benchmark."""
    sdk = measure("airflow.sdk")
    operator = measure("airflow_crm_provider.operators.mass_update", already="airflow.sdk")
    hook = measure("airflow_crm_provider.hooks.zoho_crm", already="airflow.sdk")
    rows = [
        ["airflow.sdk (every DAG file pays this)", f"{sdk['seconds'] * 1000:.0f}", sdk["modules"], "-"],
        [
            "the operator, on top of airflow.sdk",
            f"{operator['seconds'] * 1000:.0f}",
            operator["modules"],
            ", ".join(operator["heavy"]) or "none",
        ],
        [
            "the hook, on top (deferred to execute())",
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
