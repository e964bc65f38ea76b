"""Helpers for the emulator tests: a CRM caller, token minting, the seed's recordings, the OAS spec."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
import referencing
import referencing.jsonschema
import requests

from airflow_crm_provider.testing.emulator import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

if TYPE_CHECKING:
    from airflow_crm_provider.testing.process import RunningEmulator

#: Reference data copied into the project (``data/README.md`` says from where).
DATA = Path(__file__).resolve().parent / "data"
SEED_FILE = DATA / "seed" / "000_471c073f17fadfd9.txt"
OAS_DIR = DATA / "oas"
OAS_FILES = (
    "mass_update.json",
    "common.json",
    "record.json",
    "fields.json",
    "modules.json",
    "org.json",
    "users.json",
)
#: The spec's files refer to each other under both of these bases.
OAS_BASES = (
    "https://raw.githubusercontent.com/Zohocorp-Pvt-Ltd/crm-oas/refs/heads/main/v8.0/",
    "https://github.com/Zohocorp-Pvt-Ltd/crm-oas/raw/refs/heads/main/v8.0/",
)

#: ``mint(**form_overrides)`` -> the token endpoint's answer.
Mint = Callable[..., requests.Response]
#: ``validate(ref, instance)`` against Zoho's OAS; raises ``jsonschema.ValidationError``.
Validate = Callable[[str, Any], None]


def _mint(url: str, **overrides: str) -> requests.Response:
    """POST a refresh-token grant to the emulator's token endpoint (form body, as Zoho documents)."""
    form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        **overrides,
    }
    return requests.post(f"{url}/oauth/v2/token", data=form, timeout=10)


@dataclass
class Crm:
    """Calls the emulator's CRM API with a valid token."""

    url: str
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        scheme: str = "Zoho-oauthtoken",
        token: str | None = None,
        timeout: float = 10,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        headers = {
            **(headers or {}),
            **({"Authorization": f"{scheme} {token or self.token}"} if scheme else {}),
        }
        return self.session.request(
            method, self.url + path, json=json_body, params=params, headers=headers, timeout=timeout
        )

    def mass_update(
        self, body: Any, *, module: str = "Leads", version: str = "v8", **kw: Any
    ) -> requests.Response:
        return self.call("POST", f"/crm/{version}/{module}/actions/mass_update", json_body=body, **kw)

    def update(
        self, body: Any, *, module: str = "Leads", record_id: str = "", **kw: Any
    ) -> requests.Response:
        path = f"/crm/v8/{module}" + (f"/{record_id}" if record_id else "")
        return self.call("PUT", path, json_body=body, **kw)

    def upsert(self, body: Any, *, module: str = "Leads", **kw: Any) -> requests.Response:
        return self.call("POST", f"/crm/v8/{module}/upsert", json_body=body, **kw)

    def status(self, job_id: str, *, module: str = "Leads", version: str = "v8") -> requests.Response:
        return self.call("GET", f"/crm/{version}/{module}/actions/mass_update", params={"job_id": job_id})


@pytest.fixture
def mint(zoho_emulator: RunningEmulator) -> Mint:
    """Return ``mint(**form_overrides)``: a refresh-token grant against the emulator."""
    return lambda **overrides: _mint(zoho_emulator.url, **overrides)


@pytest.fixture
def crm_at() -> Callable[[str, str | None], Crm]:
    """Return ``crm_at(url, token=None)``: a CRM caller for an emulator the test started itself."""
    return lambda url, token=None: Crm(url, token or _mint(url).json()["access_token"])


@pytest.fixture
def crm(zoho_emulator: RunningEmulator) -> Crm:
    """A CRM caller holding a freshly minted token."""
    answer = _mint(zoho_emulator.url).json()
    return Crm(zoho_emulator.url, answer["access_token"])


@pytest.fixture(scope="session")
def seed_collection() -> dict[str, Any]:
    """The seed's Postman collection item (request and the eight recorded responses)."""
    text = SEED_FILE.read_text()
    marker = "Postman Collection Item JSON"
    return dict(json.loads(text[text.index(marker) + len(marker) :]))


def _any_of(node: Any) -> Any:
    """
    Turn ``oneOf`` into ``anyOf`` (the spec's alternatives overlap: a bare INVALID_DATA matches three),
    and OpenAPI's ``nullable`` into a ``null`` type.
    """
    if isinstance(node, dict):
        node = {("anyOf" if k == "oneOf" else k): _any_of(v) for k, v in node.items()}
        if node.pop("nullable", False) is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]  # OpenAPI 3.0's nullable, in JSON Schema terms
        return node
    if isinstance(node, list):
        return [_any_of(v) for v in node]
    return node


def _optional(node: Any) -> Any:
    """Drop every ``required`` list: the metadata schemas require ~70 keys, the emulator sends a subset."""
    if isinstance(node, dict):
        return {k: _optional(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_optional(v) for v in node]
    return node


@pytest.fixture(scope="session")
def oas() -> Validate:
    """
    Return ``validate(ref, instance)`` against Zoho's OAS, e.g. ``validate("mass_update.json#/...", body)``.

    Adaptations: ``mass_update.json``'s ``data`` item schema (it requires a ``dummy`` key) becomes any
    object; in ``fields.json``, ``modules.json`` and ``org.json`` no key is required (each key sent
    must still fit its schema).
    """
    documents = {name: _any_of(json.loads((OAS_DIR / name).read_text())) for name in OAS_FILES}
    documents["mass_update.json"]["components"]["schemas"]["data"] = {"type": "object", "minProperties": 1}
    for name in ("fields.json", "modules.json", "org.json"):
        documents[name] = _optional(documents[name])
    draft = referencing.jsonschema.DRAFT7
    registry = referencing.Registry().with_resources(
        (base + name, referencing.Resource.from_contents(doc, default_specification=draft))
        for name, doc in documents.items()
        for base in OAS_BASES
    )

    def validate(ref: str, instance: Any) -> None:
        schema = {"$ref": OAS_BASES[0] + ref}
        validator = jsonschema.Draft7Validator(
            schema, registry=registry, format_checker=jsonschema.FormatChecker()
        )
        validator.validate(copy.deepcopy(instance))

    return validate
