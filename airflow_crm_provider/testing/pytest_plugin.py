"""
Pytest fixtures that run the Zoho CRM emulator on a loopback port, for this project and your DAG tests.

The plugin loads automatically once ``airflow-crm-provider`` is installed (``pytest11`` entry point).

Fixtures:

``zoho_emulator_server`` (session)
    Starts ``python -m airflow_crm_provider.testing.emulator`` in its own process on a free
    ``127.0.0.1`` port, waits until it answers, and stops it when the session ends. Returns a
    :class:`~airflow_crm_provider.testing.process.RunningEmulator` with ``.url`` and ``.client``
    (an :class:`~airflow_crm_provider.testing.client.EmulatorClient`). Set ``ZOHO_EMULATOR_URL`` to use
    an emulator that already runs (e.g. in docker-compose) instead.
``zoho_emulator`` (function)
    The same server, reset to its default records and settings before the test. Its
    ``connection_json(**extras)`` builds a ``zoho_crm`` connection that caches tokens under the
    test's ``tmp_path``.
``zoho_crm_conn`` (function)
    Sets ``AIRFLOW_CONN_ZOHO_CRM_DEFAULT`` to a connection pointing at the emulator (default
    credentials, ``api_version`` v8, file token cache in ``tmp_path / "tokens"``) and returns
    ``"zoho_crm_default"``.

Example::

    def test_my_dag_updates_leads(zoho_crm_conn, zoho_emulator):
        zoho_emulator.client.configure(burst_429=2)
        ...  # run your task with zoho_crm_conn_id=zoho_crm_conn
        assert zoho_emulator.client.counters()["records_changed"] == 2

The emulator's default state, settings and admin API are described in
:mod:`airflow_crm_provider.testing.emulator`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from airflow_crm_provider.zoho.settings import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from airflow_crm_provider.testing.process import RunningEmulator

CONN_ID = DEFAULT_CONN_ID
URL_VARIABLE = "ZOHO_EMULATOR_URL"


@pytest.fixture(scope="session")
def zoho_emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """Run one emulator process for the whole session (or use ``$ZOHO_EMULATOR_URL``)."""
    from airflow_crm_provider.testing.client import EmulatorClient
    from airflow_crm_provider.testing.process import RunningEmulator, start_emulator

    external = os.environ.get(URL_VARIABLE)
    if external:
        running = RunningEmulator(url=external.rstrip("/"), client=EmulatorClient(external))
    else:
        running = start_emulator(log_path=tmp_path_factory.mktemp("zoho-emulator") / "emulator.log")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def zoho_emulator(zoho_emulator_server: RunningEmulator, tmp_path: Path) -> RunningEmulator:
    """Return the session's emulator, reset to the default state and settings for this test."""
    zoho_emulator_server.client.reset()
    return zoho_emulator_server.with_cache_dir(tmp_path / "tokens")


@pytest.fixture
def zoho_crm_conn(zoho_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point ``zoho_crm_default`` at the emulator (through the environment) and return its conn id."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", zoho_emulator.connection_json())
    return CONN_ID
