"""Serving the emulator with uvicorn, on a protocol that lets the app drop a connection."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from airflow_crm_provider.testing.emulator import BANNER
from airflow_crm_provider.testing.emulator.app import create_app
from airflow_crm_provider.testing.emulator.faults import TRANSPORT_KEY

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from starlette.types import ASGIApp, Receive, Scope, Send

    from airflow_crm_provider.testing.emulator.tls import TLSFiles


def _connection_made(self: Any, transport: asyncio.Transport) -> None:
    """Start the connection as uvicorn does, then hand its transport to the app in the scope."""
    AutoHTTPProtocol.connection_made(self, transport)
    app: ASGIApp = self.app

    async def app_with_transport(scope: Scope, receive: Receive, send: Send) -> None:
        extensions = {**scope.get("extensions", {}), TRANSPORT_KEY: transport}
        await app({**scope, "extensions": extensions}, receive, send)

    self.app = app_with_transport


#: uvicorn's HTTP protocol, with the connection's transport available to the app (to drop it).
DroppableHTTPProtocol: type[asyncio.Protocol] = type(
    "DroppableHTTPProtocol", (AutoHTTPProtocol,), {"connection_made": _connection_made}
)


def bind(host: str, port: int) -> socket.socket:
    """
    Bind and listen on ``host:port`` (port 0: a free port), so the address is known before serving.

    :param host: interface to listen on.
    :param port: TCP port, or 0 for any free one.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _exit_with_parent(server: uvicorn.Server, parent_pid: int) -> None:
    """Ask the server to stop once ``parent_pid`` is no longer our parent (it died; we were re-parented)."""
    while not server.should_exit:
        if os.getppid() != parent_pid:
            server.should_exit = True
        time.sleep(0.5)


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    config: dict[str, Any] | None = None,
    announce: Callable[[str], None] | None = None,
    parent_pid: int | None = None,
    tls: TLSFiles | None = None,
    state_file: str | None = None,
) -> None:
    """
    Run the emulator until interrupted (SIGINT/SIGTERM).

    :param host: interface to listen on.
    :param port: TCP port, or 0 for any free one.
    :param config: emulator settings that differ from the defaults.
    :param announce: called once with ``"Zoho CRM emulator listening on http://host:port"`` when the
        socket accepts connections (default: print it to stdout).
    :param parent_pid: stop when this process (the one that started us) ends, even if killed.
    :param tls: serve https with this server certificate and key (default: plain http).
    :param state_file: keep the org in this file: loaded now if it exists, saved on every change
        (see :mod:`.persistence`); the settings in ``config`` then apply on top of the saved ones.
    """
    app = create_app(config)
    persistent = None
    if state_file:
        from airflow_crm_provider.testing.emulator.persistence import PersistentState

        persistent = PersistentState(app, state_file)
        if persistent.loaded:
            app.state.emulator.configure(config or {})
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    scheme = "https" if tls else "http"
    url = f"{scheme}://[{host}]:{bound_port}" if ":" in host else f"{scheme}://{host}:{bound_port}"
    server = uvicorn.Server(
        uvicorn.Config(
            persistent or app,
            log_level="warning",
            access_log=False,
            server_header=False,
            lifespan="off",
            http=DroppableHTTPProtocol,
            timeout_graceful_shutdown=2,
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
        )
    )
    if parent_pid is not None:
        threading.Thread(target=_exit_with_parent, args=(server, parent_pid), daemon=True).start()
    (announce or (lambda line: print(line, flush=True)))(BANNER + url)
    try:
        server.run(sockets=[sock])
    finally:
        if persistent is not None:
            persistent.save()
