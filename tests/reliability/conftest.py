"""
Fixtures of the reliability suite: a migrated metadata DB per test, child DAG runs, chaos knobs.

Every DAG run happens in a child process (``dag.test()`` in it, the task in that process), on a
copy of one SQLite metadata DB migrated once per session, so a test can SIGKILL a run and read
every table afterwards. The knobs a test records with ``knobs`` are printed when it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.reliability.dag_factory import DAG_FILE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_crm_provider.testing.process import RunningEmulator

ROOT = Path(__file__).parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
#: Seconds a child DAG run may take before the test gives up on it.
CHILD_TIMEOUT = 240


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Print the chaos knobs (seed, fault rates...) of a failed test in its report."""
    outcome = yield
    report = outcome.get_result()
    knobs = getattr(item, "reliability_knobs", None)
    if knobs and report.failed:
        report.sections.append(("chaos knobs (rerun with these)", json.dumps(knobs, indent=2, default=str)))


@pytest.fixture
def knobs(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A dict of the test's seed and fault settings, shown if the test fails."""
    values: dict[str, Any] = {}
    request.node.reliability_knobs = values
    return values


def _airflow_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly migrated SQLite metadata DB, once per session (tests work on copies)."""
    home = tmp_path_factory.mktemp("reliability-airflow")
    (home / "dags").mkdir()
    subprocess.run(
        [AIRFLOW, "db", "migrate"], env=_airflow_env(home), check=True, capture_output=True, timeout=600
    )
    return home / "airflow.db"


@dataclass
class AirflowHome:
    """One test's Airflow home: its own metadata DB, dags folder and logs; runs DAGs in children."""

    path: Path
    connection: str

    @property
    def db(self) -> Path:
        return self.path / "airflow.db"

    def env(self) -> dict[str, str]:
        return {
            **_airflow_env(self.path),
            "AIRFLOW_CONN_ZOHO_CRM_DEFAULT": self.connection,
            "RELIABILITY_SPEC": str(self.path / "spec.json"),
        }

    def start(self, dag_id: str, *, retry: bool = False, **op_kwargs: Any) -> subprocess.Popen[str]:
        """
        Start a child that runs the DAG (``dag.test()``) at the fixed logical date.

        :param retry: instead, retry the existing run's task whose worker died (as the scheduler does).
        """
        spec = {"dag_id": dag_id, "op_kwargs": op_kwargs, "retry": retry}
        (self.path / "spec.json").write_text(json.dumps(spec))
        log = (self.path / "children.log").open("a")
        return subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.dag_factory"],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run(self, dag_id: str, *, retry: bool = False, **op_kwargs: Any) -> int:
        """Run the DAG (or retry its killed task: see :meth:`start`) in a child; return its exit code."""
        child = self.start(dag_id, retry=retry, **op_kwargs)
        return child.wait(CHILD_TIMEOUT)

    def output(self) -> str:
        """What the children printed (task logs included)."""
        path = self.path / "children.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as db:
            return list(db.execute(sql, args))

    def xcom(self, key: str, task_id: str = "set_leads") -> Any:
        """Return the XCom value of the task (JSON as the metadata DB stores it), or None."""
        rows = self.query("SELECT value FROM xcom WHERE task_id = ? AND key = ?", task_id, key)
        if not rows:
            return None
        value = rows[0][0]
        return json.loads(value) if isinstance(value, (str, bytes)) else value

    def ti(self, task_id: str = "set_leads") -> tuple[str, int]:
        """Return ``(state, try_number)`` of the task instance."""
        ((state, try_number),) = self.query(
            "SELECT state, try_number FROM task_instance WHERE task_id = ?", task_id
        )
        return state, try_number

    def state_store(self) -> list[Any]:
        """Return the task_state_store values (JSON decoded)."""
        return [json.loads(v) for (v,) in self.query("SELECT value FROM task_state_store")]

    def dump(self) -> str:
        """Return every table of the metadata DB as SQL text."""
        with sqlite3.connect(self.db) as db:
            return "\n".join(db.iterdump())


@pytest.fixture
def airflow_home(migrated_db: Path, tmp_path: Path, zoho_emulator: RunningEmulator) -> AirflowHome:
    """A per-test Airflow home (a copy of the migrated DB) whose connection points at the emulator."""
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(migrated_db, home / "airflow.db")
    (home / "dags" / "reliability_dag.py").write_text(DAG_FILE)
    return AirflowHome(home, zoho_emulator.connection_json())


def recorded_ids(airflow_home: AirflowHome) -> set[str]:
    """Ids of the chunks whose replies a (killed) try recorded in task_state_store."""
    return {row[0] for value in airflow_home.state_store() for row in value.get("entries", [])}


def mass_update_ids(client: Any) -> list[str]:
    """Every id the emulator received in a mass update POST, once per request that carried it."""
    return [
        i
        for e in client.log()
        if e["method"] == "POST"
        and e["path"].endswith("/actions/mass_update")
        and isinstance(e["body"], dict)
        for i in e["body"].get("ids", [])
    ]
