"""Fixtures of the operator tests: the emulator client, request/reply rewriting, a migrated DB."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
import requests


@pytest.fixture
def emulator(zoho_emulator):
    """The emulator's admin client, reset for this test."""
    return zoho_emulator.client


@pytest.fixture
def rewrite_requests(monkeypatch):
    """
    Rewrite outgoing mass update requests (method, JSON body) before they reach the emulator.

    For shapes the operator never sends (no ids, no field, a wrong verb) but whose answers it must handle.
    """

    def install(*, method: str | None = None, body=None):
        real_send = requests.Session.send

        def send(self, request, **kwargs):
            if request.url and "/actions/mass_update" in request.url:
                if body is not None:
                    new = body(json.loads(request.body))
                    request.prepare_body(data=None, files=None, json=new)
                if method is not None:
                    request.method = method
            return real_send(self, request, **kwargs)

        monkeypatch.setattr(requests.Session, "send", send)

    return install


class _Body(io.BytesIO):
    """A rewritten reply body, read as the hook reads a streamed one."""

    def read1(self, size=-1, decode_content=None):
        return super().read1(size)


@pytest.fixture
def rewrite_replies(monkeypatch):
    """Rewrite the JSON of mass update replies (for codes the emulator never answers)."""

    def install(change):
        real_send = requests.Session.send

        def send(self, request, **kwargs):
            response = real_send(self, request, **kwargs)
            if request.url and "/actions/mass_update" in request.url:
                response.raw = _Body(json.dumps(change(response.json())).encode())
            return response

        monkeypatch.setattr(requests.Session, "send", send)

    return install


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated metadata DB (SQLite under the test AIRFLOW_HOME), once per session."""
    subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
        timeout=300,
    )
