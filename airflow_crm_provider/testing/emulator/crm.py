"""
The ``/crm/`` front door.

Routing, faults, authentication, the org's credits, scopes, the org's concurrency limits, seeded
refusals, then the handler; every reply carries ``X-API-CREDITS-REMAINING`` once half the credits are used.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator import (
    faults,
    mass_update,
    metadata,
    reads,
    record_writes,
    refusals,
)
from airflow_crm_provider.testing.emulator.inbound import capture, state_of
from airflow_crm_provider.testing.emulator.responses import AUTH_HEADERS, METHOD_HEADERS, bare_error
from airflow_crm_provider.testing.emulator.store import zoho_time
from airflow_crm_provider.testing.emulator.tokens import AccessToken, covers

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from airflow_crm_provider.testing.emulator.state import EmulatorState

_PATH = re.compile(r"^/crm/(?P<version>v\d+(?:\.\d+)?)/(?P<rest>[^/]+(?:/[^/]+)*)/?$")
_SCHEMES = ("zoho-oauthtoken", "bearer")
#: The API versions Zoho serves; any other (``/crm/v1``, ``/crm/v99``) is an unknown URL pattern.
VERSIONS = frozenset({"v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"})
#: Path (below the version) -> route kind of the metadata and user endpoints.
_FIXED = {
    ("users",): "users",
    ("org",): "org",
    ("settings", "fields"): "fields",
    ("settings", "modules"): "modules",
}


@dataclass(frozen=True)
class Route:
    """
    What a ``/crm/`` path addresses.

    ``kind`` is ``mass_update``, ``records``, ``record``, ``upsert``, ``users``, ``org``, ``fields`` or
    ``modules``.
    """

    kind: str
    module: str
    record_id: str = ""

    def scopes(self, method: str) -> tuple[str, ...]:
        """Return the OAuth scopes Zoho takes for a request to this route (any one of them will do)."""
        module = self.module.replace("_", "").lower()
        if self.kind == "mass_update":
            return (f"ZohoCRM.mass_update.{module}.{'UPDATE' if method == 'POST' else 'READ'}",)
        if self.kind == "upsert":  # Zoho's Upsert Records page: ALL, WRITE or CREATE
            return (f"ZohoCRM.modules.{module}.WRITE", f"ZohoCRM.modules.{module}.CREATE")
        if self.kind in ("records", "record") and method == "PUT":  # Update Records: ALL, WRITE or UPDATE
            return (f"ZohoCRM.modules.{module}.WRITE", f"ZohoCRM.modules.{module}.UPDATE")
        if self.kind in ("records", "record"):
            return (f"ZohoCRM.modules.{module}.READ",)
        if self.kind in ("fields", "modules"):
            return (f"ZohoCRM.settings.{self.kind}.READ",)
        return (f"ZohoCRM.{self.kind}.READ",)

    def allowed(self) -> tuple[str, ...]:
        """Return the HTTP methods the emulator serves on this route."""
        if self.kind == "mass_update":
            return ("GET", "POST")
        if self.kind == "upsert":
            return ("POST",)
        if self.kind in ("records", "record"):
            return ("GET", "PUT")
        return ("GET",)

    def writes(self, method: str) -> bool:
        """Tell whether a request is Update Records or Upsert (costed and pooled by its records)."""
        return self.kind == "upsert" or (self.kind in ("records", "record") and method == "PUT")


def resolve(path: str) -> Route | None:
    """Return the route of a ``/crm/{version}/...`` path, or None for an unknown URL pattern."""
    match = _PATH.match(path)
    if match is None or match["version"] not in VERSIONS:
        return None
    parts = match["rest"].split("/")
    if tuple(parts) in _FIXED:
        return Route(_FIXED[tuple(parts)], "")
    if len(parts) == 3 and parts[1:] == ["actions", "mass_update"]:
        return Route("mass_update", parts[0])
    if len(parts) == 2 and parts[1] == "upsert":
        return Route("upsert", parts[0])
    if len(parts) == 1:
        return Route("records", parts[0])
    if len(parts) == 2 and parts[1].isdigit():
        return Route("record", parts[0], parts[1])
    return None


async def crm_endpoint(request: Request) -> Response | None:
    """Answer any request under ``/crm/`` (None: the connection was dropped, nothing to send)."""
    state = state_of(request)
    entry = await capture(request)
    route = resolve(entry["path"])
    _count(state, route, request.method)
    response = await _answer(request, state, route, entry["body"])
    entry["status"] = None if response is None else response.status_code
    if response is not None:
        state.credits.stamp(state.config, time.time(), response)
    return response


def _count(state: EmulatorState, route: Route | None, method: str) -> None:
    counters = state.counters
    if route is not None and route.kind == "mass_update":
        if method == "POST":
            counters.mass_update_posts += 1
        elif method == "GET":
            counters.status_gets += 1
    elif route is not None and route.kind == "upsert" and method == "POST":
        counters.upsert_posts += 1
    elif route is not None and route.kind in ("records", "record") and method == "GET":
        counters.record_gets += 1
    elif route is not None and route.kind in ("records", "record") and method == "PUT":
        counters.update_puts += 1


async def _answer(request: Request, state: EmulatorState, route: Route | None, body: Any) -> Response | None:
    fault = faults.pick(state)
    if fault == "drop":
        if await faults.drop(request):
            state.counters.dropped_connections += 1
            return None
        return bare_error("INTERNAL_ERROR", "cannot drop connections under this server", 500)
    if fault == "429":
        return faults.too_many_requests(state, faults.CONCURRENCY_MESSAGE)
    if fault == "5xx":
        return faults.internal_error(state)
    if route is None:
        return bare_error(
            "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", 404
        )
    method = request.method
    if method not in route.allowed():
        if route.kind in ("mass_update", "upsert"):
            message = "The http request method type is not a valid one"
            return bare_error("INVALID_REQUEST_METHOD", message, 400, headers=METHOD_HEADERS)
        message = f"the Zoho CRM emulator does not implement {method} {request.url.path}"
        return bare_error("NOT_SUPPORTED", message, 400)
    token = _authenticate(request, state)
    if not isinstance(token, AccessToken):
        return token
    writes = route.writes(method)
    if not state.credits.admit(state.config, time.time(), record_writes.credits_of(body) if writes else 1):
        state.counters.answered_credit_429 += 1
        return faults.too_many_requests(state, faults.CREDITS_MESSAGE)
    if not any(covers(token.scopes, scope) for scope in route.scopes(method)):
        return bare_error(*refusals.SCOPE_MISMATCH, headers=AUTH_HEADERS)
    heavy = (route.kind == "mass_update" and method == "POST") or (writes and record_writes.is_heavy(body))
    if not state.enter(token.client_id, heavy):
        return faults.too_many_requests(state, faults.CONCURRENCY_MESSAGE)
    epoch = state.epoch
    try:
        await faults.delay(state)
        if state.epoch != epoch:  # reset while waiting: touch nothing of the new state
            return bare_error("INTERNAL_ERROR", "the emulator was reset while this request waited", 500)
        refused = refusals.answer(state, route.kind, route.module, method)
        response = refused if refused is not None else _dispatch(request, state, route, body)
    finally:
        state.leave(token.client_id, heavy)
    if state.config.lose_replies > 0:
        state.config.lose_replies -= 1  # claimed before awaiting: requests in flight lose N in all
        if await faults.drop(request):
            state.counters.lost_replies += 1
            return None
        state.config.lose_replies += 1
    response = faults.garbled(state, response)
    response.headers["X-ACCESSTOKEN-RESET"] = zoho_time(token.expires_at)
    broken = faults.pick_broken_reply(state)
    if broken is not None:
        state.counters.broken_replies += 1  # counted before a stalled reply waits for the client
        if await faults.break_reply(request, response, broken):
            return None
        state.counters.broken_replies -= 1
        setattr(state.config, broken, getattr(state.config, broken) + 1)
    return response


def _authenticate(request: Request, state: EmulatorState) -> AccessToken | Response:
    """Return the request's valid access token, or its 401 answer."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in _SCHEMES or not token or " " in token:
        return bare_error("AUTHENTICATION_FAILURE", "Authentication failed", 401, headers=AUTH_HEADERS)
    found = state.tokens.find(token)
    if found is not None and found.evicted:
        # Zoho's v8 token-validity page: a token pushed out by the 16th answers INVALID_OAUTHTOKEN
        return bare_error("INVALID_OAUTHTOKEN", "invalid oauth token", 401, headers=AUTH_HEADERS)
    if found is None or found.expires_at <= time.time():
        return bare_error("INVALID_TOKEN", "invalid oauth token", 401, headers=AUTH_HEADERS)
    return found


def _dispatch(request: Request, state: EmulatorState, route: Route, body: Any) -> Response:
    now = time.time()
    state.advance_jobs(now)
    query = dict(request.query_params)
    if route.kind == "users":
        return reads.users(query)
    if route.kind == "org":
        return metadata.org(state)
    if route.kind == "modules":
        return metadata.modules(state)
    if route.kind == "fields":
        return metadata.fields(state, query)
    unmodified_since = request.headers.get("if-unmodified-since")
    if route.kind == "upsert":
        return record_writes.upsert(state, route.module, body, unmodified_since, now)
    if request.method == "PUT":
        record_id = route.record_id or None
        return record_writes.update(state, route.module, body, unmodified_since, now, record_id)
    if route.kind == "records":
        return reads.records(state, route.module, query)
    if route.kind == "record":
        return reads.record(state, route.module, route.record_id)
    if request.method == "GET":
        return mass_update.status(state, route.module, query, now)
    return mass_update.post(state, route.module, body, now)
