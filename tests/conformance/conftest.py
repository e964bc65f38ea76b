"""
Zoho's official Python SDK for v8 (``zohocrmsdk8-0``), unpatched, as a client of the emulator.

The SDK keeps global state (one ``Initializer``, class-level field caches), so each test initializes
it afresh with its own token store and resource folder under ``tmp_path``, pointed at the emulator
through an ``Environment`` the way a user points it at a Zoho data centre.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

sdk = pytest.importorskip(
    "zohocrmsdk", reason="zohocrmsdk8-0 (Zoho's SDK, a dev dependency) is not installed in this environment"
)

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken  # noqa: E402
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore  # noqa: E402
from zohocrmsdk.src.com.zoho.api.logger import Logger  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.util.utility import Utility  # noqa: E402

from airflow_crm_provider.testing.emulator import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from airflow_crm_provider.testing.client import EmulatorClient
    from airflow_crm_provider.testing.process import RunningEmulator


@dataclass
class Sdk:
    """The initialized SDK's context: the emulator's admin client and where the SDK keeps files."""

    emulator: RunningEmulator
    resources: Path

    @property
    def admin(self) -> EmulatorClient:
        return self.emulator.client

    def crm_log(self) -> list[dict[str, Any]]:
        """The CRM requests the SDK sent, oldest first."""
        return [e for e in self.admin.log() if e["path"].startswith("/crm/")]


def initialize(emulator: RunningEmulator, tmp_path: Path, *, refresh_token: str = REFRESH_TOKEN) -> Sdk:
    """Initialize the SDK against the emulator with a refresh token, as Zoho's README shows."""
    resources = tmp_path / "sdk-resources"
    resources.mkdir(exist_ok=True)
    Utility.apitype_vs_datatype.clear()
    Utility.api_supported_modules = {}
    environment = DataCenter.Environment(emulator.url, f"{emulator.url}/oauth/v2/token", emulator.url)
    token = OAuthToken(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=refresh_token)
    Initializer.initialize(
        environment=environment,
        token=token,
        store=FileStore(str(tmp_path / "sdk-tokens.csv")),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=True),
        resource_path=str(resources),
        logger=Logger.get_instance(Logger.Levels.INFO, str(tmp_path / "sdk.log")),
    )
    return Sdk(emulator, resources)


@pytest.fixture
def zoho_sdk(zoho_emulator: RunningEmulator, tmp_path: Path) -> Iterator[Sdk]:
    """The SDK, initialized against the freshly reset emulator."""
    yield initialize(zoho_emulator, tmp_path)
    logging.getLogger("SDKLogger").handlers.clear()
