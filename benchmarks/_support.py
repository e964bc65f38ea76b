"""Shared pieces of the benchmarks: an emulator connection, a minimal task context, a result table."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.process import start_emulator

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_crm_provider.testing.process import RunningEmulator


class PushedXComs:
    """The slice of a task instance the operator uses: ``xcom_push``, serializing as Airflow's does."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}
        #: CPU seconds spent in Airflow's serialization of the pushed values.
        self.serialize_cpu = 0.0

    def xcom_push(self, key: str, value: Any) -> None:
        """Keep the value as ``BaseXCom.serialize_value`` makes it, timing that apart."""
        from airflow.sdk.bases.xcom import BaseXCom

        started = time.process_time()
        self.pushed[key] = BaseXCom.serialize_value(value)
        self.serialize_cpu += time.process_time() - started


class JsonStateStore:
    """A ``task_state_store`` (Airflow 3.3) that keeps each value as the JSON the supervisor is sent."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value stored under ``key``, or ``default``."""
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key: str, value: Any) -> None:
        """Keep ``value`` under ``key``."""
        self.values[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        self.values.pop(key, None)


@contextlib.contextmanager
def emulator_connection(**config: Any) -> Iterator[RunningEmulator]:
    """Start an emulator with ``config`` and point ``zoho_crm_default`` at it (file token cache)."""
    emulator = start_emulator(config)
    cache = tempfile.mkdtemp(prefix="zoho-bench-tokens-")
    previous = os.environ.get("AIRFLOW_CONN_ZOHO_CRM_DEFAULT")
    os.environ["AIRFLOW_CONN_ZOHO_CRM_DEFAULT"] = emulator.with_cache_dir(cache).connection_json()
    try:
        yield emulator.with_cache_dir(cache)
    finally:
        emulator.stop()
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_ZOHO_CRM_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_ZOHO_CRM_DEFAULT"] = previous


def use_fresh_token_cache(emulator: RunningEmulator) -> None:
    """Point ``zoho_crm_default`` at the emulator with an empty token cache (after a reset)."""
    cache = tempfile.mkdtemp(prefix="zoho-bench-tokens-")
    os.environ["AIRFLOW_CONN_ZOHO_CRM_DEFAULT"] = emulator.with_cache_dir(cache).connection_json()


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    """Print a fixed-width table."""
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n## {title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
