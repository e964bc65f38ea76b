"""
`make demo`: the daily mass update, then the per-lead Update Records DAG, on SQLite against the emulator.

It starts the emulator, seeds it and the staging DB with ``python -m airflow_crm_provider.testing.staging
--leads N`` (some leads not approved, some locked), migrates a SQLite metadata DB under
``.airflow-demo/``, runs ``leads_mass_update_daily`` with ``airflow dags test`` (the task runner, XComs,
connections and teardown semantics of a real run, without a scheduler to start and wait for), shows progress,
then a short report checked against the emulator's store. Airflow's own log goes to a file whose path
it prints. Then ``leads_update_records_daily`` pushes a value per lead computed in SQL: its plan and a
check of every updated lead. Everything it started is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.process import start_emulator

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_crm_provider.testing.process import RunningEmulator

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "leads_mass_update_daily"
PER_RECORD_DAG_ID = "leads_update_records_daily"
UPDATE, REPORT = "update_leads", "report"
FIELD, VALUE = "Lead_Status", "Contacted"
RUN_TIMEOUT = 600.0


class Demo:
    """
    The processes and files of one demo run.

    :param home: AIRFLOW_HOME of the demo (metadata DB, staging DB, logs).
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self.log_path = home / "airflow.log"
        self.db_path = home / "airflow.db"
        self.staging_path = home / "staging.db"
        self.emulator: RunningEmulator | None = None
        self.airflow: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """Return the environment of every Airflow command of the demo."""
        assert self.emulator is not None
        zoho = self.emulator.with_cache_dir(self.home / "tokens")
        return {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}",
            "AIRFLOW_CONN_ZOHO_CRM_DEFAULT": zoho.connection_json(),
            "AIRFLOW_CONN_LEADS_STAGING": json.dumps({"conn_type": "sqlite", "host": str(self.staging_path)}),
        }

    def run(self, *command: str) -> str:
        """Run a command to completion, its output appended to the log; return its stdout's last line."""
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(command)}\n".encode())
            log.flush()
            self.airflow = subprocess.Popen(
                command, env=self.env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=log, start_new_session=True
            )
            out, _ = self.airflow.communicate(timeout=RUN_TIMEOUT)
            log.write(out)
        code, self.airflow = self.airflow.returncode, None
        if code != 0:
            raise RuntimeError(f"`{' '.join(command[:4])}` exited with {code}; see {self.log_path}")
        lines = out.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def start(self, *command: str) -> None:
        """Start a long command in its own process group, its output appended to the log."""
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(command)}\n".encode())
            log.flush()
            self.airflow = subprocess.Popen(
                command,
                env=self.env(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        """Stop the Airflow command (its whole process group) and the emulator, whatever state they are in."""
        if self.airflow is not None and self.airflow.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(self.airflow.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.airflow.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.airflow = None
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None

    def db(self) -> sqlite3.Connection:
        """Open the metadata DB read-only (the running DAG keeps writing to it)."""
        return sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)


def task_states(demo: Demo, dag_id: str = DAG_ID) -> tuple[str | None, str | None, dict[str, str]]:
    """Return the latest run's id, state and ``{task: state}`` (``(None, None, {})`` before it exists)."""
    with demo.db() as db:
        run = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
        if run is None:
            return None, None, {}
        rows = db.execute(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (dag_id, run[0]),
        ).fetchall()
    return run[0], run[1], {t if m < 0 else f"{t}[{m}]": s or "none" for t, m, s in rows}


def xcom(demo: Demo, run_id: str, task_id: str, key: str = "return_value", dag_id: str = DAG_ID) -> Any:
    """Read one XCom value of the demo's run."""
    with demo.db() as db:
        row = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ?",
            (dag_id, run_id, task_id, key),
        ).fetchone()
    return None if row is None else json.loads(row[0])


def follow(demo: Demo, total: int) -> Iterator[str]:
    """Yield progress lines until the ``airflow dags test`` process ends."""
    assert demo.airflow is not None
    assert demo.emulator is not None
    started, changed = time.monotonic(), -1
    seen: dict[str, str] = {}
    while True:
        done = demo.airflow.poll() is not None
        try:
            _, _, states = task_states(demo)
            now = demo.emulator.client.counters()["records_changed"]
        except sqlite3.OperationalError:  # the DB is being written; look again
            states, now = seen, changed
        stamp = f"[{time.monotonic() - started:5.1f}s]"
        for task, state in states.items():
            if seen.get(task) != state and state != "none":
                yield f"  {stamp} {task}: {state}"
        if now != changed and now > 0:
            yield f"  {stamp} {now} of {total} leads changed in the CRM"
        seen, changed = dict(states), now
        if done:
            return
        if time.monotonic() - started > RUN_TIMEOUT:
            raise RuntimeError(f"the DAG run did not end in {RUN_TIMEOUT:.0f} s; see {demo.log_path}")
        time.sleep(0.5)


def report(demo: Demo, before: dict[str, dict[str, Any]], seconds: float) -> tuple[list[str], bool]:
    """Return the report's lines and whether the run and the CRM agree with each other."""
    assert demo.emulator is not None
    run_id, run_state, states = task_states(demo)
    assert run_id is not None
    records = xcom(demo, run_id, UPDATE, "records") or []
    after = demo.emulator.client.records("Leads")
    counters = demo.emulator.client.counters()
    by_code = Counter(r["code"] for r in records)
    by_outcome = Counter(r["outcome"] for r in records)
    updated = {r["id"] for r in records if r["outcome"] == "updated"}
    changed = {i for i, r in after.items() if r != before.get(i)}
    wrong_value = sorted(i for i in updated if after.get(i, {}).get(FIELD) != VALUE)
    was = Counter(str(before[i].get(FIELD)) for i in changed if i in before)
    with sqlite3.connect(demo.staging_path) as staging:
        issues = Counter(
            dict(staging.execute("SELECT code, COUNT(*) FROM lead_update_issues GROUP BY code").fetchall())
        )
    agree = run_state == "success" and updated == changed and not wrong_value
    width = max([len(c) for c in by_code] + [12])
    lines = [
        f"=== {DAG_ID}: run {run_state} in {seconds:.0f} s ({run_id}) ===",
        "Tasks: " + ", ".join(f"{task} {state}" for task, state in states.items()),
        f"Zoho codes of the {len(records)} records ({UPDATE} XCom 'records'):",
        *(f"  {code.ljust(width)} {count:>6}" for code, count in by_code.most_common()),
        "Outcomes: " + ", ".join(f"{n} {outcome}" for outcome, n in by_outcome.most_common()),
        f"In the CRM (the emulator's store): {len(changed)} leads changed, {FIELD} now {VALUE!r}; before: "
        + ", ".join(f"{value!r} {n}" for value, n in was.most_common()),
        f"  check: the {len(updated)} ids reported updated are the {len(changed)} changed in the store: "
        + ("yes" if updated == changed else f"NO ({len(updated ^ changed)} differ)"),
        f"  check: every updated lead holds {FIELD} = {VALUE!r}: "
        + ("yes" if not wrong_value else f"NO ({len(wrong_value)} do not, e.g. {wrong_value[:3]})"),
        f"Issues table lead_update_issues: {sum(issues.values())} rows ("
        + ", ".join(f"{code} {n}" for code, n in issues.most_common())
        + ")",
        f"Zoho traffic: {counters['tokens_minted']} token(s) minted, {counters['mass_update_posts']} mass "
        f"update calls, at most {counters['max_in_flight']} in flight, {counters['answered_429']} 429s",
        f"Airflow's full log: {demo.log_path}",
    ]
    return lines, agree


def per_record_report(demo: Demo, seconds: float) -> tuple[list[str], bool]:
    """Return the per-lead run's report lines and whether its records agree with the CRM."""
    assert demo.emulator is not None
    run_id, run_state, _ = task_states(demo, PER_RECORD_DAG_ID)
    assert run_id is not None
    summary = xcom(demo, run_id, UPDATE, dag_id=PER_RECORD_DAG_ID) or {}
    records = xcom(demo, run_id, UPDATE, "records", PER_RECORD_DAG_ID) or []
    after = demo.emulator.client.records("Leads")
    updated = [r["id"] for r in records if r["outcome"] == "updated"]
    wrong = [i for i in updated if after.get(i, {}).get("Description") != f"Zone {i[-1]}"]
    plan = summary.get("plan") or {}
    outcomes = Counter(r["outcome"] for r in records)
    lines = [
        f"=== {PER_RECORD_DAG_ID}: run {run_state} in {seconds:.0f} s: a Description per lead from SQL ===",
        f"Plan: {plan.get('mass_update_calls')} mass update and {plan.get('update_calls')} Update Records "
        f"call(s), about {plan.get('estimated_credits')} credits",
        "Outcomes: " + ", ".join(f"{n} {outcome}" for outcome, n in outcomes.most_common()),
        "  check: every updated lead holds its own Description: "
        + ("yes" if not wrong else f"NO ({len(wrong)})"),
    ]
    return lines, run_state == "success" and bool(updated) and not wrong


def main(argv: list[str] | None = None) -> int:
    """Run the demo and return the process exit code (0: green run, report consistent with the CRM)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=3000, help="Leads to generate (default %(default)s)")
    parser.add_argument("--home", type=Path, default=ROOT / ".airflow-demo", help="the demo's AIRFLOW_HOME")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill stops the demo's children too
    demo = Demo(args.home.resolve())
    demo.home.mkdir(parents=True, exist_ok=True)
    demo.log_path.write_text("")
    airflow = str(Path(sys.executable).with_name("airflow"))
    try:
        print(f"Starting the Zoho CRM emulator; Airflow home {demo.home}", flush=True)
        # 100 ms per call, so the update's chunks overlap as they would against Zoho
        demo.emulator = start_emulator({"latency": 0.1}, log_path=demo.home / "emulator.log")
        print("Migrating the SQLite metadata DB ...", flush=True)
        demo.run(airflow, "db", "migrate")
        demo.run(airflow, "pools", "set", "zoho_crm", "4", "Zoho CRM calls in flight")
        seed = [sys.executable, "-m", "airflow_crm_provider.testing.staging"]
        print(demo.run(*seed, "--emulator-url", demo.emulator.url, "--leads", str(args.leads)), flush=True)
        before = demo.emulator.client.records("Leads")
        print(f"Running {DAG_ID} (airflow dags test):", flush=True)
        started = time.monotonic()
        demo.start(airflow, "dags", "test", DAG_ID)
        for line in follow(demo, args.leads + 4):
            print(line, flush=True)
        lines, agree = report(demo, before, time.monotonic() - started)
        print("\n" + "\n".join(lines), flush=True)
        print(f"\nRunning {PER_RECORD_DAG_ID} (airflow dags test) ...", flush=True)
        started = time.monotonic()
        demo.run(airflow, "dags", "test", PER_RECORD_DAG_ID)
        more, agree_more = per_record_report(demo, time.monotonic() - started)
        print("\n".join(more), flush=True)
        return 0 if agree and agree_more else 1
    except KeyboardInterrupt:
        print(f"\nInterrupted; stopping what the demo started. Log: {demo.log_path}", flush=True)
        return 130
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
