"""Every example DAG file parses without errors, and parsing does no work (no connection, no query)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.dags.conftest import DAGS

DAG_IDS = {
    "leads_mass_update_daily",
    "leads_mass_update_on_demand",
    "leads_stage_candidates",
    "leads_mass_update_on_asset",
    "leads_mass_update_job_mode",
    "leads_mass_update_mapped",
    "leads_mass_update_all_or_nothing",
    "leads_update_records_daily",
}

#: Parse dags/ as the DAG processor does (bundle DagBag) with every socket and SQLite open refused.
PARSE = textwrap.dedent(
    """
    import json, socket, sqlite3, sys
    from pathlib import Path

    try:
        from airflow.dag_processing.dagbag import BundleDagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import BundleDagBag

    attempts = []

    def refuse(what):
        def refused(*args, **kwargs):
            attempts.append(what)
            raise OSError(f"{what} at parse time")
        return refused

    socket.socket.connect = refuse("socket connect")
    socket.create_connection = refuse("socket create_connection")
    sqlite3.connect = refuse("sqlite3 connect")
    dags = Path(sys.argv[1])
    bag = BundleDagBag(dag_folder=str(dags), bundle_path=dags)  # examples off: AIRFLOW__CORE__LOAD_EXAMPLES
    print(json.dumps({
        "errors": {k: v[-500:] for k, v in bag.import_errors.items()},
        "dags": {
            d: {"tags": sorted(bag.dags[d].tags), "file": Path(bag.dags[d].fileloc).name} for d in bag.dag_ids
        },
        "attempts": attempts,
    }))
    """
)


def test_every_dag_parses_with_no_work_at_parse_time(tmp_path):
    env = {
        **os.environ,
        "AIRFLOW_CONN_LEADS_STAGING": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "x.db")}),
    }
    run = subprocess.run(
        [sys.executable, "-c", PARSE, str(DAGS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    parsed = json.loads(run.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {}
    assert set(parsed["dags"]) == DAG_IDS
    assert parsed["attempts"] == []
    assert all(d["tags"] == ["example", "zoho_crm"] for d in parsed["dags"].values())
    assert "leads_common.py" not in {d["file"] for d in parsed["dags"].values()}
    assert not (tmp_path / "x.db").exists()


def test_the_building_blocks_are_not_parsed_as_a_dag_file():
    assert (DAGS / ".airflowignore").read_text().split() == ["leads_common.py"]
