from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "aiohttp",
    "airflow_crm_provider.testing",
    "airflow_crm_provider.hooks.zoho_crm",
    "requests",
)


def test_operator_import_stays_cheap():
    """DAG files import the operator at parse time: no web framework, emulator or hook behind it."""
    code = (
        "import sys, airflow_crm_provider.operators.mass_update\n"
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
