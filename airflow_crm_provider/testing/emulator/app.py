"""
The emulator's ASGI app: admin routes, the OAuth token endpoint and the ``/crm/`` front door.

The routes are plain Starlette routes on a FastAPI app: Zoho's quirks (any HTTP method on the mass
update path, errors under HTTP 200, dropped connections) need the raw request, not FastAPI's
parameter parsing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Route

from airflow_crm_provider.testing.emulator import admin, crm, oauth
from airflow_crm_provider.testing.emulator.state import EmulatorState

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send


class AnyMethod:
    """An ASGI endpoint that takes every HTTP method (Starlette routes to an ASGI object for all)."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response | None]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request, or send nothing when the handler dropped the connection."""
        response = await self.handler(Request(scope, receive, send))
        if response is not None:
            await response(scope, receive, send)


def create_app(config: dict[str, Any] | None = None) -> FastAPI:
    """
    Build a fresh emulator with its own state.

    :param config: settings that differ from the defaults (see :class:`EmulatorConfig`).
    :raises ValueError: for an unknown setting or bad value.
    """
    app = FastAPI(title="Zoho CRM emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.emulator = EmulatorState(config)
    app.router.routes.extend(admin.routes())
    app.router.routes.append(Route("/oauth/v2/token", oauth.token_endpoint, methods=["POST"]))
    app.router.routes.append(Route("/crm/{rest:path}", AnyMethod(crm.crm_endpoint)))
    return app
