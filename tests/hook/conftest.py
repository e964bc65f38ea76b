"""Helpers for hook tests: hooks on emulator connections with fast retry settings."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook

if TYPE_CHECKING:
    from collections.abc import Callable

#: Small backoff so retry tests run fast (the hook's defaults are for real Zoho).
FAST: dict[str, Any] = {
    "max_attempts": 4,
    "max_retry_wait": 10.0,
    "backoff_base": 0.01,
    "max_token_wait": 3.0,
}


@pytest.fixture
def make_hook(zoho_emulator, monkeypatch) -> Callable[..., ZohoCRMHook]:
    """
    Return ``make(conn_id="zoho_crm_default", hook_kwargs=None, login=..., password=..., **extras)``.

    It defines the connection in the environment (extras as in ``zoho_emulator.connection_json``;
    a None extra removes it) and returns a hook with fast retry settings.
    """

    def make(
        conn_id: str = "zoho_crm_default", hook_kwargs: dict | None = None, **overrides: Any
    ) -> ZohoCRMHook:
        conn = zoho_emulator.connection_dict(
            **{k: v for k, v in overrides.items() if k not in ("login", "password")}
        )
        for key in ("login", "password"):
            if key in overrides:
                conn[key] = overrides[key]
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return ZohoCRMHook(conn_id, **{**FAST, **(hook_kwargs or {})})

    return make


@pytest.fixture
def emulator(zoho_emulator):
    """The emulator's admin client."""
    return zoho_emulator.client


@pytest.fixture
def crm_log(emulator) -> Callable[[], list[dict]]:
    """Return a function listing the CRM API requests the emulator logged (no token requests)."""
    return lambda: [e for e in emulator.log() if e["path"].startswith("/crm/")]


@pytest.fixture
def token_log(emulator) -> Callable[[], list[dict]]:
    """Return a function listing the token requests the emulator logged."""
    return lambda: [e for e in emulator.log() if e["path"] == "/oauth/v2/token"]
