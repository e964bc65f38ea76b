"""
`make demo`: run the example DAG end to end on the embedded default (SQLite, the Zoho CRM emulator).

It starts the emulator, points ``zoho_crm_default`` at it, migrates a SQLite metadata DB under
``.airflow-demo/``, runs ``airflow dags test example_leads_mass_update``, and prints what changed in
the emulated CRM, the task's summary and its per-record results.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from airflow_crm_provider.testing.process import start_emulator

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".airflow-demo"
DAG_ID = "example_leads_mass_update"
TASK_ID = "set_lead_status"


def airflow(env: dict[str, str], *args: str) -> None:
    """Run an ``airflow`` CLI command in the demo's environment, stopping the demo if it fails."""
    binary = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([binary, *args], env=env, check=True, cwd=ROOT)


def read_xcom(key: str) -> Any:
    """Read one XCom of the demo's update task from the SQLite metadata DB."""
    with sqlite3.connect(HOME / "airflow.db") as db:
        row = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = ? ORDER BY timestamp DESC",
            (DAG_ID, TASK_ID, key),
        ).fetchone()
    return None if row is None else json.loads(row[0])


def main() -> int:
    """Run the demo and return the process exit code."""
    HOME.mkdir(exist_ok=True)
    emulator = start_emulator(log_path=HOME / "emulator.log")
    try:
        before = emulator.client.records("Leads")
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME / 'airflow.db'}",
            "AIRFLOW_CONN_ZOHO_CRM_DEFAULT": emulator.with_cache_dir(HOME / "tokens").connection_json(),
        }
        print(f"Zoho CRM emulator at {emulator.url}; Airflow home {HOME}")
        airflow(env, "db", "migrate")
        airflow(env, "pools", "set", "zoho_crm", "4", "Zoho CRM heavy calls")
        airflow(env, "dags", "test", DAG_ID)

        after = emulator.client.records("Leads")
        changed = {
            i: (before[i].get("Lead_Status"), r.get("Lead_Status"))
            for i, r in after.items()
            if r != before.get(i)
        }
        counters = emulator.client.counters()
        print("\n=== What changed in the emulated Zoho CRM ===")
        for record_id, (old, new) in changed.items():
            print(f"  Lead {record_id}: Lead_Status {old!r} -> {new!r}")
        minted, calls = counters["tokens_minted"], counters["mass_update_posts"]
        print(f"  tokens minted: {minted}, mass update calls: {calls}")
        print("\n=== Summary (XCom return_value) ===")
        print(json.dumps(read_xcom("return_value"), indent=2))
        print("\n=== Per-record results (XCom 'records') ===")
        for record in read_xcom("records") or []:
            print(f"  {record['id']:>20}  {record['outcome']:<8} {record['code']:<14} {record['message']}")
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
