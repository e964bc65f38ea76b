"""
Seed the example pipelines' staging database (and optionally the emulator) in one command.

``python -m airflow_crm_provider.testing.staging [--conn-id leads_staging] [--emulator-url URL --leads N]``

The staging database is reached through an Airflow connection (``AIRFLOW_CONN_LEADS_STAGING`` or the
metadata DB) of any ``common-sql`` type (SQLite, PostgreSQL). The tables are (re)created, so a second
run starts the staging database over. ``dags/README.md`` describes the tables and what the DAGs do
with them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_crm_provider.testing.emulator.defaults import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_crm_provider.testing.client import EmulatorClient

STAGING_CONN_ID = "leads_staging"
#: The emulator's default Leads: two plain ones, one NOT_APPROVED, one RECORD_LOCKED (forever).
DEFAULT_CANDIDATES = (*SEED_IDS, NOT_APPROVED_ID, LOCKED_ID)
NEW_STATUS = "Contacted"
CANDIDATES = "lead_candidates"
QUALIFIED = "qualified_leads"
ISSUES = "lead_update_issues"
TABLES = {
    CANDIDATES: "lead_id VARCHAR(32), new_value VARCHAR(255)",
    QUALIFIED: "lead_id VARCHAR(32), new_value VARCHAR(255)",
    ISSUES: (
        "dag_id VARCHAR(250), run_id VARCHAR(250), lead_id VARCHAR(32), outcome VARCHAR(16), "
        "code VARCHAR(64), message TEXT"
    ),
}
#: Of generated leads: every 20th is not approved, every 50th locked (every 100th only for one attempt).
NOT_APPROVED_EVERY, LOCKED_EVERY = 20, 50


@dataclass(frozen=True)
class SeededLeads:
    """
    The Leads a seed created in the emulator, by how Zoho will answer an update of them.

    :param ids: every generated id, in order.
    :param not_approved: ids answering NOT_APPROVED.
    :param locked: ids answering RECORD_LOCKED on every attempt.
    :param locked_once: ids answering RECORD_LOCKED once, then updated on the re-send.
    """

    ids: list[str]
    not_approved: list[str]
    locked: list[str]
    locked_once: list[str]


def seed_emulator(client: EmulatorClient, count: int) -> SeededLeads:
    """
    Create ``count`` Leads in the emulator, some not approved and some locked.

    :param client: admin client of a running emulator.
    :param count: Leads to generate (>= 0).
    """
    ids = client.seed("Leads", count=count) if count else []
    not_approved = ids[7::NOT_APPROVED_EVERY]  # offsets chosen so the three sets never overlap
    locked_any = ids[11::LOCKED_EVERY]
    locked, locked_once = locked_any[0::2], locked_any[1::2]
    if not_approved:
        client.seed("Leads", not_approved=not_approved)
    if locked:
        client.seed("Leads", locked=locked)
    if locked_once:
        client.seed("Leads", locked=locked_once, locked_for=1)
    return SeededLeads(ids, not_approved, locked, locked_once)


def stage(hook: DbApiHook, ids: Sequence[str], new_value: str = NEW_STATUS) -> None:
    """
    (Re)create the staging tables and fill ``lead_candidates`` with ``ids``.

    :param hook: a ``common-sql`` hook on the staging database.
    :param ids: candidate lead ids, in order.
    :param new_value: the value the daily pipeline sets (``Lead_Status``).
    """
    statements = [f"DROP TABLE IF EXISTS {table}" for table in TABLES]
    statements += [f"CREATE TABLE {table} ({columns})" for table, columns in TABLES.items()]
    hook.run(statements)
    rows = [(lead_id, new_value) for lead_id in ids]
    hook.insert_rows(CANDIDATES, rows, target_fields=["lead_id", "new_value"], commit_every=1000)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, seed, print one line of counts and return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_crm_provider.testing.staging", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--conn-id", default=STAGING_CONN_ID, help="staging connection (default %(default)s)")
    parser.add_argument("--emulator-url", help="emulator to create --leads generated Leads in")
    parser.add_argument("--leads", type=int, default=0, help="Leads to generate in the emulator (default 0)")
    args = parser.parse_args(argv)
    if args.leads < 0:
        parser.error(f"--leads must be >= 0, got {args.leads}")
    if args.leads and not args.emulator_url:
        parser.error("--leads needs --emulator-url (the emulator to create them in)")

    from airflow.sdk import BaseHook

    seeded = SeededLeads([], [], [], [])
    if args.leads:
        from airflow_crm_provider.testing.client import EmulatorClient

        client = EmulatorClient(args.emulator_url)
        try:
            seeded = seed_emulator(client, args.leads)
        finally:
            client.close()
    ids = [*DEFAULT_CANDIDATES, *seeded.ids]
    stage(BaseHook.get_hook(args.conn_id), ids)
    print(
        f"staged {len(ids)} lead candidates in {args.conn_id}.{CANDIDATES}: "
        f"{len(seeded.ids)} generated in the emulator ({len(seeded.not_approved)} not approved, "
        f"{len(seeded.locked)} locked, {len(seeded.locked_once)} locked once)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
