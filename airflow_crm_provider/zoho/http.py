"""
HTTP for the Zoho client: request plans' steps, and the sync and async drivers that run them.

A *plan* is a generator that yields :class:`Send`, :class:`Sleep` and :class:`FetchToken` steps
and receives their results; it holds every decision (what to send, when to retry, how long to
wait: :mod:`~airflow_crm_provider.zoho.retries`). :func:`run_sync` (``requests``) and
:func:`run_async` (``aiohttp``) only perform the I/O, so both paths retry, back off and replay in
exactly the same way.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from airflow_crm_provider.zoho.credits import CREDITS_HEADER, parse_credits
from airflow_crm_provider.zoho.errors import (
    ZohoConnectionError,
    ZohoCRMError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Generator, Mapping

    import requests

T = TypeVar("T")


class Token(Protocol):
    """What a request needs of an access token (see :class:`~airflow_crm_provider.zoho.auth.AccessToken`)."""

    @property
    def value(self) -> str:
        """The token."""

    @property
    def api_domain(self) -> str | None:
        """Where the token may be sent, if the accounts server said."""


class Tokens(Protocol):
    """Answers :class:`FetchToken` and :class:`TokenAccepted` steps (see :mod:`~.zoho.auth`)."""

    def get(self, rejected: str | None = None, cause: ZohoCRMError | None = None) -> Any:
        """Return a usable token that is not ``rejected`` (refused with ``cause``)."""

    def accepted(self, value: str) -> None:
        """Note that Zoho answered a call made with token ``value`` without refusing the token."""


@cache
def user_agent() -> str:
    """Return ``airflow-crm-provider/<version>`` (read once, from the installed distribution)."""
    try:
        version = metadata.version("airflow-crm-provider")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"airflow-crm-provider/{version}"


@dataclass(frozen=True)
class Send:
    """Send one HTTP request (headers may hold the ``Authorization`` header: never log them)."""

    method: str
    url: str
    params: Mapping[str, str] | None = None
    json: Any = None
    data: Mapping[str, str] | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: ``False`` for a request that must not be re-sent once it may have reached Zoho (a job POST).
    resendable: bool = True


@dataclass(frozen=True)
class Sleep:
    """Wait before the next attempt."""

    seconds: float


@dataclass(frozen=True)
class FetchToken:
    """Ask for a usable access token; ``rejected`` is the value Zoho just refused (with ``cause``), if any."""

    rejected: str | None = field(default=None, repr=False)
    cause: ZohoCRMError | None = None


@dataclass(frozen=True)
class TokenAccepted:
    """Zoho answered a call made with this token without refusing it: a later refusal means it went stale."""

    value: str = field(repr=False)


if TYPE_CHECKING:
    Step = Send | Sleep | FetchToken | TokenAccepted
    Plan = Generator[Step, Any, T]


@dataclass(frozen=True)
class Reply:
    """An HTTP reply: status, lower-cased headers and body text."""

    status: int
    headers: Mapping[str, str]
    text: str = field(repr=False)  # a token reply carries a token

    def json(self) -> Any:
        """Return the decoded JSON body, or ``None`` if the body is empty or not JSON."""
        try:
            return json.loads(self.text) if self.text.strip() else None
        except (ValueError, RecursionError):  # not JSON, or nested past any reply Zoho sends
            return None

    def credits_remaining(self) -> int | None:
        """Return the ``X-API-CREDITS-REMAINING`` header as a number, if present and well-formed."""
        return parse_credits(self.headers.get(CREDITS_HEADER))

    def retry_after(self) -> float | None:
        """Return the ``Retry-After`` header in seconds (number or HTTP date), if present."""
        value = (self.headers.get("retry-after") or "").strip()
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Explicit no-op auth: stops ``requests`` from adding ``~/.netrc`` credentials."""
    return request


#: The largest reply read (a 500-record mass update reply is about 150 KB): past it, the reply is refused.
MAX_REPLY_BYTES = 16 * 1024 * 1024
_READ_SIZE = 64 * 1024


def send_sync(
    session: requests.Session, step: Send, timeout: tuple[float, float]
) -> Reply | ZohoConnectionError:
    """
    Perform ``step`` with ``requests``; a network failure is returned, not raised.

    Each attempt is bounded: ``connect + read`` seconds in all (a server that trickles its reply is
    cut off), and :data:`MAX_REPLY_BYTES`. ``requests`` is imported here, not at module level: DAG
    files import the operators at parse time.

    :param session: the hook's own session.
    :param step: the request.
    :param timeout: ``(connect, read)`` seconds.
    """
    import requests
    import urllib3

    deadline = time.monotonic() + sum(timeout)
    try:
        response = session.request(
            step.method,
            step.url,
            params=step.params,
            json=step.json,
            data=step.data,
            headers={"User-Agent": user_agent(), **step.headers},
            timeout=timeout,
            allow_redirects=False,
            auth=_no_netrc,
            stream=True,
        )
        with response:
            body = bytearray()
            while piece := response.raw.read1(_READ_SIZE, decode_content=True):  # what has arrived
                body += piece
                if len(body) > MAX_REPLY_BYTES or time.monotonic() > deadline:
                    return _cut_off(step, len(body), timeout)
        headers = {k.lower(): v for k, v in response.headers.items()}
        return Reply(response.status_code, headers, body.decode(response.encoding or "utf-8", "replace"))
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        # urllib3's own errors come from reading the body (stalled, short, garbled compression)
        never_connected = isinstance(exc, requests.ConnectTimeout) or (
            isinstance(exc, requests.ConnectionError) and "Failed to establish a new connection" in str(exc)
        )
        return ZohoConnectionError(
            f"{step.method} {_where(step.url)} failed: {type(exc).__name__}: {exc}",
            maybe_delivered=not never_connected,
        )


def _cut_off(step: Send, size: int, timeout: tuple[float, float]) -> ZohoConnectionError:
    if size > MAX_REPLY_BYTES:
        why = f"its reply exceeded {MAX_REPLY_BYTES} bytes"
    else:
        why = f"its reply took longer than {sum(timeout):g}s (connect_timeout + read_timeout)"
    return ZohoConnectionError(f"{step.method} {_where(step.url)} was cut off: {why}", maybe_delivered=True)


async def send_async(session: Any, step: Send, timeout: tuple[float, float]) -> Reply | ZohoConnectionError:
    """
    Perform ``step`` with ``aiohttp``, bounded as :func:`send_sync`; a network failure is returned.

    :param session: an ``aiohttp.ClientSession``.
    :param step: the request.
    :param timeout: ``(connect, read)`` seconds.
    """
    import aiohttp

    client_timeout = aiohttp.ClientTimeout(total=sum(timeout), sock_connect=timeout[0], sock_read=timeout[1])
    try:
        async with session.request(
            step.method,
            step.url,
            params=dict(step.params) if step.params else None,
            json=step.json,
            data=dict(step.data) if step.data else None,
            headers={"User-Agent": user_agent(), **step.headers},
            timeout=client_timeout,
            allow_redirects=False,
        ) as response:
            body = bytearray()
            while piece := await response.content.read(_READ_SIZE):  # read(n) gives what has arrived
                body += piece
                if len(body) > MAX_REPLY_BYTES:
                    return _cut_off(step, len(body), timeout)
            text = body.decode(response.charset or "utf-8", "replace")
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, text)
    except asyncio.TimeoutError:
        return _cut_off(step, 0, timeout)
    except aiohttp.ClientError as exc:
        return ZohoConnectionError(
            f"{step.method} {_where(step.url)} failed: {type(exc).__name__}: {exc}",
            maybe_delivered=not isinstance(exc, aiohttp.ClientConnectorError),
        )


def _where(url: str) -> str:
    return url.split("?", 1)[0]


def run_sync(
    plan: Plan[T],
    session: requests.Session,
    timeout: tuple[float, float],
    tokens: Tokens | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """
    Drive ``plan`` with blocking I/O and return its result.

    :param plan: the request plan.
    :param session: the session to send with.
    :param timeout: ``(connect, read)`` seconds per request.
    :param tokens: answers :class:`FetchToken` steps.
    :param sleep: how to wait (tests may pass a fake).
    """
    value: Any = None
    while True:
        try:
            step = plan.send(value)
        except StopIteration as stop:
            return stop.value
        if isinstance(step, Sleep):
            sleep(step.seconds)
            value = None
        elif isinstance(step, FetchToken):
            if tokens is None:
                raise RuntimeError("this plan needs a token source")
            value = tokens.get(step.rejected, step.cause)
        elif isinstance(step, TokenAccepted):
            if tokens is not None:
                tokens.accepted(step.value)
            value = None
        else:
            value = send_sync(session, step, timeout)


async def run_async(
    plan: Plan[T],
    timeout: tuple[float, float],
    get_token: Callable[[str | None, ZohoCRMError | None], Awaitable[Token]],
    accepted: Callable[[str], None] = lambda value: None,
) -> T:
    """
    Drive ``plan`` with ``aiohttp`` on the running event loop and return its result.

    :param plan: the request plan.
    :param timeout: ``(connect, read)`` seconds per request.
    :param get_token: answers :class:`FetchToken` steps without blocking the loop.
    :param accepted: answers :class:`TokenAccepted` steps (must not block).
    """
    import aiohttp

    value: Any = None
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                step = plan.send(value)
            except StopIteration as stop:
                return stop.value
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                value = None
            elif isinstance(step, FetchToken):
                value = await get_token(step.rejected, step.cause)
            elif isinstance(step, TokenAccepted):
                accepted(step.value)
                value = None
            else:
                value = await send_async(session, step, timeout)
