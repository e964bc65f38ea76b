"""Fault injection for ``/crm/`` requests: latency, 429s, 500s, dropped connections, broken replies."""

from __future__ import annotations

import asyncio
import logging
import time
from http import HTTPStatus
from typing import TYPE_CHECKING

from starlette.responses import Response

from airflow_crm_provider.testing.emulator.responses import bare_error

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_crm_provider.testing.emulator.state import EmulatorState

log = logging.getLogger(__name__)

#: Scope extension under which the emulator's server puts the connection's transport.
TRANSPORT_KEY = "zoho_emulator.transport"

CREDITS_MESSAGE = "API request limit exceeded for the past 24 hours"
CONCURRENCY_MESSAGE = "Concurrency limit of the user for the app exceeded"

#: Settings that break on the wire the reply of a request carried out: stalled, short.
BROKEN_REPLIES = ("stall_replies", "short_replies")
#: Longest a stalled reply keeps its connection open, waiting for the client to give up.
MAX_STALL = 300.0


def pick(state: EmulatorState) -> str | None:
    """
    Decide whether this CRM request meets a fault, consuming one unit of a burst if so.

    :return: ``"drop"``, ``"429"``, ``"5xx"`` or None.
    """
    config = state.config
    if config.drop_connections:
        config.drop_connections -= 1
        return "drop"
    if config.burst_429:
        config.burst_429 -= 1
        return "429"
    if config.rate_429 and state.rng.random() < config.rate_429:
        return "429"
    if config.burst_5xx:
        config.burst_5xx -= 1
        return "5xx"
    if config.rate_5xx and state.rng.random() < config.rate_5xx:
        return "5xx"
    return None


async def drop(request: Request) -> bool:
    """
    Close the request's TCP connection without answering.

    :return: False when the server is not the emulator's own (no transport to close).
    """
    transport = request.scope.get("extensions", {}).get(TRANSPORT_KEY)
    if transport is None:
        log.warning("Cannot drop the connection: run the emulator with its own server (python -m ...)")
        return False
    transport.abort()
    for _ in range(3):  # let the server see the disconnect before the app returns
        await asyncio.sleep(0)
    return True


def too_many_requests(state: EmulatorState, message: str) -> Response:
    """
    Return 429 TOO_MANY_REQUESTS, with ``Retry-After`` if configured (Zoho sends none).

    ``Retry-After`` carries the configured seconds as given, so tests may use fractions.
    """
    state.counters.answered_429 += 1
    response = bare_error("TOO_MANY_REQUESTS", message, 429)
    if state.config.retry_after is not None:
        response.headers["Retry-After"] = f"{state.config.retry_after:g}"
    return response


def internal_error(state: EmulatorState) -> Response:
    """Return 500 INTERNAL_ERROR."""
    state.counters.answered_5xx += 1
    return bare_error("INTERNAL_ERROR", "Internal server error occurred.", 500)


async def delay(state: EmulatorState) -> None:
    """Wait the configured latency plus a random share of the jitter."""
    config = state.config
    seconds = config.latency + (state.rng.uniform(0, config.latency_jitter) if config.latency_jitter else 0)
    if seconds > 0:
        await asyncio.sleep(seconds)


def garbled(state: EmulatorState, response: Response) -> Response:
    """
    Return HTTP 200 with the first half of ``response``'s body and bytes that are not JSON, if asked.

    :param state: the emulator state (``garble_replies`` counts down).
    :param response: the answer the request got (its work is done).
    """
    if state.config.garble_replies <= 0:
        return response
    state.config.garble_replies -= 1
    state.counters.garbled_replies += 1
    body = bytes(response.body)
    return Response(body[: len(body) // 2] + b"\x00\xff<garbled>", 200, media_type="application/json")


def pick_broken_reply(state: EmulatorState) -> str | None:
    """Return the setting (of :data:`BROKEN_REPLIES`) that breaks this reply, consuming one unit, or None."""
    config = state.config
    for name in BROKEN_REPLIES:
        if getattr(config, name):
            setattr(config, name, getattr(config, name) - 1)
            return name
    return None


async def break_reply(request: Request, response: Response, how: str) -> bool:
    """
    Write ``response`` to the wire broken as ``how`` says (see :data:`BROKEN_REPLIES`), then close.

    :return: False when the server is not the emulator's own (no transport to write to).
    """
    transport = request.scope.get("extensions", {}).get(TRANSPORT_KEY)
    if transport is None:
        log.warning("Cannot break a reply: run the emulator with its own server (python -m ...)")
        return False
    body = bytes(response.body)
    skip = {b"content-length", b"connection"}
    headers = [(k, v) for k, v in response.raw_headers if k.lower() not in skip]
    payload = body[: len(body) // 2]  # half the body under the full length
    headers += [(b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    status = response.status_code
    head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()
    head += b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n"
    transport.write(head + payload)
    if how == "stall_replies":
        deadline = time.monotonic() + MAX_STALL
        while not transport.is_closing() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # until the client gives up and closes
    transport.close()
    for _ in range(3):  # let the server see the disconnect before the app returns
        await asyncio.sleep(0)
    return True
