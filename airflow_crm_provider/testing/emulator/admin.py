"""The admin API under ``/__emulator__/`` (no auth): reset, settings, credits, seeding, state, log."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.routing import Route

from airflow_crm_provider.testing.emulator import refusals as refusal_table
from airflow_crm_provider.testing.emulator.inbound import state_of
from airflow_crm_provider.testing.emulator.tokens import FULL_SCOPES

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response

    from airflow_crm_provider.testing.emulator.state import EmulatorState

PREFIX = "/__emulator__"
_SEED_KEYS = {
    "module",
    "count",
    "ids",
    "not_approved",
    "in_blueprint",
    "cannot_process",
    "locked",
    "locked_for",
    "fields",
    "custom_views",
    "territories",
}


class AdminError(ValueError):
    """A bad admin request; answered 400 with the message."""


async def _payload(request: Request) -> dict[str, Any]:
    """Return the JSON object body (empty when there is no body)."""
    raw = await request.body()
    try:
        payload = json.loads(raw) if raw.strip() else {}
    except ValueError as err:
        raise AdminError(f"the body is not JSON: {err}") from None
    if not isinstance(payload, dict):
        raise AdminError(f"the body must be a JSON object, got {type(payload).__name__}")
    return payload


def _ids(value: Any, name: str) -> list[str]:
    value = value or []
    if not isinstance(value, list) or not all(isinstance(i, str) and i for i in value):
        raise AdminError(f"{name} must be a list of record id strings, got {value!r}")
    return value


def _views(value: Any, name: str) -> dict[str, list[str]]:
    value = value or {}
    if not isinstance(value, dict):
        raise AdminError(f"{name} must map an id to a list of record ids, got {value!r}")
    return {str(k): _ids(v, f"{name}[{k}]") for k, v in value.items()}


def _seed_arguments(payload: dict[str, Any]) -> dict[str, Any]:
    """Check a seed request and return the keyword arguments of :meth:`RecordStore.seed`."""
    unknown = sorted(set(payload) - _SEED_KEYS)
    if unknown:
        raise AdminError(f"unknown seed arguments {unknown}; known: {sorted(_SEED_KEYS)}")
    count, locked_for = payload.get("count", 0), payload.get("locked_for")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise AdminError(f"count must be an integer >= 0, got {count!r}")
    if locked_for is not None and (not isinstance(locked_for, int) or isinstance(locked_for, bool)):
        raise AdminError(f"locked_for must be an integer or null, got {locked_for!r}")
    fields = payload.get("fields") or {}
    if not isinstance(fields, dict):
        raise AdminError(f"fields must map a field api name to a value, got {fields!r}")
    return {
        "count": count,
        "ids": _ids(payload.get("ids"), "ids"),
        "not_approved": _ids(payload.get("not_approved"), "not_approved"),
        "in_blueprint": _ids(payload.get("in_blueprint"), "in_blueprint"),
        "cannot_process": _ids(payload.get("cannot_process"), "cannot_process"),
        "locked": _ids(payload.get("locked"), "locked"),
        "locked_for": locked_for,
        "fields": fields,
        "custom_views": _views(payload.get("custom_views"), "custom_views"),
        "territories": _views(payload.get("territories"), "territories"),
    }


async def reset(request: Request, state: EmulatorState) -> Any:
    """Back to the default state and settings, plus the settings in the body."""
    state.reset(await _payload(request))
    return state.config.as_dict()


async def config(request: Request, state: EmulatorState) -> Any:
    """Read (GET) or partly change (POST) the settings."""
    if request.method == "POST":
        state.configure(await _payload(request))
    return state.config.as_dict()


async def expire_tokens(request: Request, state: EmulatorState) -> Any:
    """Make every issued access token invalid."""
    return {"expired": state.tokens.expire_all(time.time())}


def _scopes(value: Any) -> tuple[str, ...]:
    if value is None:
        return FULL_SCOPES
    if not isinstance(value, list) or not all(isinstance(s, str) and s.count(".") >= 2 for s in value):
        raise AdminError(f"scopes must be a list of scope names like ZohoCRM.modules.ALL, got {value!r}")
    return tuple(value)


def _client_id(value: Any, state: EmulatorState, *, new_allowed: bool = False) -> str:
    if value is None:
        return next(iter(state.tokens.clients))
    if not isinstance(value, str) or not value:
        raise AdminError(f"client_id must be a non-empty string, got {value!r}")
    if not new_allowed and value not in state.tokens.clients:
        raise AdminError(f"client_id {value!r} is not registered (create a refresh token for it first)")
    return value


async def issue_token(request: Request, state: EmulatorState) -> Any:
    """
    Issue a valid access token without the OAuth flow (not counted as a mint).

    Body: ``{"ttl", "scopes", "client_id"}``, all optional (default: the ``token_ttl`` setting,
    every scope, the default app).
    """
    payload = await _payload(request)
    ttl = payload.get("ttl")
    if ttl is None:
        ttl = state.config.token_ttl
    if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or ttl <= 0:
        raise AdminError(f"ttl must be a number of seconds > 0, got {ttl!r}")
    scopes, client_id = _scopes(payload.get("scopes")), _client_id(payload.get("client_id"), state)
    token = state.tokens.mint(None, time.time(), ttl, client_id=client_id, scopes=scopes)
    return {"access_token": token.token, "expires_at": token.expires_at, "scopes": list(token.scopes)}


async def refresh_token(request: Request, state: EmulatorState) -> Any:
    """
    Create a refresh token; body: ``{"scopes", "client_id", "client_secret"}``, all optional.

    A new ``client_id`` registers another app (its own concurrency pool) with ``client_secret``.
    """
    payload = await _payload(request)
    scopes = _scopes(payload.get("scopes"))
    client_id = _client_id(payload.get("client_id"), state, new_allowed=True)
    secret = payload.get("client_secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise AdminError("client_secret must be a non-empty string")
    token = state.tokens.add_refresh_token(client_id, scopes, secret)
    return {"refresh_token": token, "client_id": client_id, "scopes": list(scopes)}


async def refusals(request: Request, state: EmulatorState) -> Any:
    """
    Seed a request-level refusal (POST), list them (GET) or remove them all (DELETE).

    POST body: ``{"code", "operation", "module", "times"}`` (see :mod:`.refusals`).
    """
    if request.method == "POST":
        payload = await _payload(request)
        unknown = sorted(set(payload) - {"code", "operation", "module", "times"})
        if unknown:
            raise AdminError(f"unknown refusal arguments {unknown}; known: code, operation, module, times")
        state.refusals.append(refusal_table.make(**payload))
    elif request.method == "DELETE":
        state.refusals.clear()
    return list(state.refusals)


def _credit_count(payload: dict[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise AdminError(f"{name} must be an integer >= 0, got {value!r}")
    return value


async def credits(request: Request, state: EmulatorState) -> Any:
    """
    Read (GET) or spend (POST) the org's API credits, as other integrations of the org would.

    POST body, one of: ``{"used": N}`` (the credits used now, replacing the window's history),
    ``{"spend": N}`` (N more used now), ``{"reset": true}`` (none used). Returns
    ``{"budget", "window", "used", "remaining"}``.
    """
    now = time.time()
    if request.method == "POST":
        payload = await _payload(request)
        unknown = sorted(set(payload) - {"used", "spend", "reset"})
        if unknown or len(payload) != 1:
            raise AdminError(f"give exactly one of used, spend, reset; got {sorted(payload)}")
        used, spend = _credit_count(payload, "used"), _credit_count(payload, "spend")
        if "reset" in payload and payload["reset"] is not True:
            raise AdminError(f"reset must be true, got {payload['reset']!r}")
        if spend is not None:
            state.credits.spend(now, spend)
        else:
            state.credits.set_used(now, used or 0)
    return state.credits.as_dict(state.config, now)


async def seed(request: Request, state: EmulatorState) -> Any:
    """Create or change records, states, custom views and territories; returns ``{"ids": [...]}``."""
    payload = await _payload(request)
    module = payload.pop("module", "Leads")
    if not isinstance(module, str) or not module:
        raise AdminError(f"module must be a module api name, got {module!r}")
    return {"ids": state.store.seed(module, **_seed_arguments(payload))}


async def fields(request: Request, state: EmulatorState) -> Any:
    """Define fields of a module (created if new); body: ``{"module", "fields", "max_fields"}``."""
    payload = await _payload(request)
    module = payload.get("module", "Leads")
    specs = payload.get("fields") or {}
    max_fields = payload.get("max_fields")
    if not isinstance(module, str) or not module:
        raise AdminError(f"module must be a module api name, got {module!r}")
    if not isinstance(specs, dict):
        raise AdminError(f"fields must map api names to a type or {{type, mass_updatable}}, got {specs!r}")
    if max_fields is not None and (
        not isinstance(max_fields, int) or isinstance(max_fields, bool) or max_fields < 1
    ):
        raise AdminError(f"max_fields must be an integer >= 1, got {max_fields!r}")
    target = state.store.define(module, specs, max_fields)
    return {
        name: {"type": f.data_type, "mass_updatable": f.mass_updatable, "unique": f.unique}
        for name, f in target.fields.items()
    }


async def records(request: Request, state: EmulatorState) -> Any:
    """Return ``{id: record}`` of a module (404 for an unknown module)."""
    module = state.store.modules.get(request.path_params["module"])
    if module is None:
        return JSONResponse({"error": f"no module {request.path_params['module']!r}"}, 404)
    return module.records


async def record(request: Request, state: EmulatorState) -> Any:
    """Return one record (404 when the module or record does not exist)."""
    module = state.store.modules.get(request.path_params["module"])
    found = module.records.get(request.path_params["record_id"]) if module else None
    if found is None:
        return JSONResponse({"error": "no such record"}, 404)
    return found


async def request_log(request: Request, state: EmulatorState) -> Any:
    """Return every logged request, oldest first."""
    return list(state.log)


async def counters(request: Request, state: EmulatorState) -> Any:
    """Return the counters."""
    return state.counters_dict()


async def jobs(request: Request, state: EmulatorState) -> Any:
    """Return every job with its current status (counts brought up to the same instant as the status)."""
    now = time.time()
    state.advance_jobs(now)
    return [
        {"job_id": j.job_id, "module": j.module, "cvid": j.cvid, **j.status(now)}
        for j in state.jobs.jobs.values()
    ]


async def health(request: Request, state: EmulatorState) -> Any:
    """Answer that the emulator is up."""
    return {"status": "ok"}


def _endpoint(
    handler: Callable[[Request, EmulatorState], Awaitable[Any]],
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: bring jobs up to date, JSON-encode the result, answer bad input with 400."""

    async def endpoint(request: Request) -> Response:
        state = state_of(request)
        state.advance_jobs()
        try:
            result = await handler(request, state)
        except ValueError as err:
            return JSONResponse({"error": str(err)}, 400)
        return result if isinstance(result, JSONResponse) else JSONResponse(result)

    return endpoint


def routes() -> list[Route]:
    """Return the admin routes."""
    table: list[tuple[str, Callable[[Request, EmulatorState], Awaitable[Any]], list[str]]] = [
        ("/reset", reset, ["POST"]),
        ("/config", config, ["GET", "POST"]),
        ("/tokens/expire", expire_tokens, ["POST"]),
        ("/tokens", issue_token, ["POST"]),
        ("/refresh_tokens", refresh_token, ["POST"]),
        ("/refusals", refusals, ["GET", "POST", "DELETE"]),
        ("/credits", credits, ["GET", "POST"]),
        ("/seed", seed, ["POST"]),
        ("/fields", fields, ["POST"]),
        ("/records/{module}", records, ["GET"]),
        ("/records/{module}/{record_id}", record, ["GET"]),
        ("/log", request_log, ["GET"]),
        ("/counters", counters, ["GET"]),
        ("/jobs", jobs, ["GET"]),
        ("/health", health, ["GET"]),
    ]
    return [Route(PREFIX + path, _endpoint(handler), methods=methods) for path, handler, methods in table]
