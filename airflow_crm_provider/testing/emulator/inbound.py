"""Reading an incoming request: the emulator state behind it and its entry in the request log."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_crm_provider.testing.emulator.state import EmulatorState


def state_of(request: Request) -> EmulatorState:
    """Return the emulator state of the app that received ``request``."""
    state: EmulatorState = request.app.state.emulator
    return state


def parse_body(raw: bytes, content_type: str) -> Any:
    """
    Decode a request body: JSON (whatever the content type, as Zoho does), else a form, else text.

    None when the body is empty.

    :param raw: the body bytes.
    :param content_type: the request's ``Content-Type``.
    """
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        pass
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


async def capture(request: Request) -> dict[str, Any]:
    """
    Read ``request`` fully and log it as ``{"method", "path", "query", "headers", "body", "status"}``.

    Header names are lower-case; ``status`` is filled in once the answer is known (None if dropped).
    """
    raw = await request.body()
    entry = {
        "method": request.method,
        "path": request.url.path,
        "query": dict(request.query_params),
        "headers": dict(request.headers),
        "body": parse_body(raw, request.headers.get("content-type", "")),
        "status": None,
    }
    state_of(request).remember(entry)
    return entry
