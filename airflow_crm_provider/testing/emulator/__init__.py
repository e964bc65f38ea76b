"""
A stateful Zoho CRM emulator with an org's limits.

It serves the OAuth token endpoint, mass update, job status, record reads and metadata, with
concurrency by edition, 15 active tokens per refresh token, scopes, seedable errors and faults.

Run it with ``python -m airflow_crm_provider.testing.emulator --port 8765``, or in tests through the
fixtures of :mod:`airflow_crm_provider.testing.pytest_plugin`. Its admin API lives under
``/__emulator__/`` and is wrapped by :class:`airflow_crm_provider.testing.client.EmulatorClient`.
Every setting and limit is described in the project's ``docs/emulator.md``.

Importing this package is cheap; FastAPI and uvicorn load only when an app is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator.config import EmulatorConfig
from airflow_crm_provider.testing.emulator.defaults import (
    CLIENT_ID,
    CLIENT_SECRET,
    CURRENT_USER,
    EMPTY_VIEW_ID,
    EMULATOR_GRANT_CODE,
    LEADS_VIEW_ID,
    LOCKED_ID,
    NOT_APPROVED_ID,
    REFRESH_TOKEN,
    SEED_IDS,
    TERRITORY_ID,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

#: First line the emulator prints, followed by its URL (how a parent process learns the port).
BANNER = "Zoho CRM emulator listening on "

__all__ = [
    "BANNER",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CURRENT_USER",
    "EMPTY_VIEW_ID",
    "EMULATOR_GRANT_CODE",
    "LEADS_VIEW_ID",
    "LOCKED_ID",
    "NOT_APPROVED_ID",
    "REFRESH_TOKEN",
    "SEED_IDS",
    "TERRITORY_ID",
    "EmulatorConfig",
    "create_app",
]


def create_app(config: dict[str, Any] | None = None) -> FastAPI:
    """
    Build the emulator's ASGI app (imports FastAPI).

    :param config: settings that differ from the defaults (see :class:`EmulatorConfig`).
    """
    from airflow_crm_provider.testing.emulator.app import create_app as build

    return build(config)
