"""Token sources: the refresh-token grant (cached, single flight, throttle-aware) and a static token."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Protocol

from airflow_crm_provider.zoho.auth.cache import (
    TokenCacheError,
    TokenCacheUnavailable,
    open_token_cache,
)
from airflow_crm_provider.zoho.auth.token import AccessToken, parse_token_reply, static_token
from airflow_crm_provider.zoho.errors import ZohoAuthError, ZohoCRMError, ZohoTokenThrottledError
from airflow_crm_provider.zoho.http import Send, run_sync
from airflow_crm_provider.zoho.retries import Retries, backoff, retrying

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests

    from airflow_crm_provider.zoho.auth.cache import TokenCache
    from airflow_crm_provider.zoho.settings import ZohoConnectionSettings

log = logging.getLogger(__name__)

#: Seconds a caller waits out Zoho's mint throttle (10 tokens per 10 minutes) before failing.
MAX_TOKEN_WAIT = 600.0
#: Tokens minted in this process that the shared cache could not store, by token identity.
_KEPT: dict[str, AccessToken] = {}
_KEPT_LOCK = threading.Lock()


class TokenSource(Protocol):
    """Gives a usable access token."""

    def get(self, rejected: str | None = None, cause: ZohoCRMError | None = None) -> AccessToken:
        """
        Return a usable token.

        :param rejected: a token value Zoho just refused; a different one is returned or minted.
        :param cause: Zoho's refusal, for the error when no other token can help.
        """

    def accepted(self, value: str) -> None:
        """Note that Zoho answered a call made with token ``value`` without refusing the token."""


class StaticTokenSource:
    """The connection's fixed ``access_token``: never calls the accounts server."""

    def __init__(self, settings: ZohoConnectionSettings) -> None:
        self._token = static_token(settings)

    def get(self, rejected: str | None = None, cause: ZohoCRMError | None = None) -> AccessToken:
        """Return the static token; it cannot be replaced when Zoho rejects it."""
        if rejected is not None:
            raise ZohoAuthError("the static access_token was rejected and cannot be refreshed")
        return self._token

    def accepted(self, value: str) -> None:
        """Nothing to learn: the static token is never replaced."""


class RefreshTokenSource:
    """
    Mint access tokens with the refresh-token grant, sharing them through a :class:`TokenCache`.

    Single flight: a caller that needs a token takes the cache's lock, re-reads the cache, and mints
    only if it still holds nothing usable. "Access Denied" (the 10-per-10-minutes mint throttle) is
    waited out with backoff for at most ``max_token_wait`` seconds.

    A refused token is replaced by a newer one (from the cache, or minted), so a token that expired,
    was evicted (Zoho keeps 15 per refresh token) or was revoked mid-run never fails the task. Only
    two tokens in a row minted here and refused before Zoho accepted a single call made with them are
    a permanent error: the refresh token mints tokens this API does not take (scopes, org, data
    centre, scheme), and minting more would only spend the 10 mints per 10 minutes.

    A cache that is down or full never stops a working token: the source warns once and goes on
    with the token it holds (Zoho tells whether it still works), else a token another hook of this
    process keeps in memory, else one it mints without the shared lock; a token the cache cannot
    store is kept in this process's memory.

    :param settings: the connection.
    :param session: the hook's ``requests`` session.
    :param retries: retries of transient accounts-server failures.
    :param max_token_wait: seconds to wait out the mint throttle before failing.
    :param cache: override the cache chosen by ``settings.cache``.
    :param sleep: how to wait (tests may pass a fake).
    :param on_token: called with every token value this source hands out (the hook masks it in logs).
    """

    def __init__(
        self,
        settings: ZohoConnectionSettings,
        session: requests.Session,
        retries: Retries,
        max_token_wait: float = MAX_TOKEN_WAIT,
        cache: TokenCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_token: Callable[[str], None] = lambda value: None,
    ) -> None:
        self._settings = settings
        self._session = session
        self._retries = retries
        self._on_token = on_token
        self._max_token_wait = max_token_wait
        self._cache = cache or open_token_cache(settings, lock_timeout=max_token_wait + 300)
        self._key = settings.cache_key()
        self._cache_warned = False
        self._sleep = sleep
        self._current: AccessToken | None = None
        self._lock = threading.Lock()
        #: values this source minted that no call has seen accepted yet (few: one per mint)
        self._untried: set[str] = set()
        #: tokens minted here in a row that Zoho refused before accepting any call made with them
        self._refused_untried = 0

    def get(self, rejected: str | None = None, cause: ZohoCRMError | None = None) -> AccessToken:
        """Return this process's token, else the cached one, else mint one (exactly one caller mints)."""
        with self._lock:
            if rejected is not None:
                if rejected in self._untried:
                    self._untried.discard(rejected)
                    self._refused_untried += 1
                if self._refused_untried > 2:  # newer tokens were tried, and they did no better
                    raise self._never_works(cause)
            token = self._current
            if token is None or not token.usable(rejected):
                token = self._shared(rejected)
                self._on_token(token.value)
                self._current = token
            return token

    def _shared(self, rejected: str | None) -> AccessToken:
        """Return the cached token, else mint one under the cache's lock; without the cache if it is down."""
        kept = _KEPT.get(self._key)
        if kept is not None and kept.value == rejected:
            _KEPT.pop(self._key, None)
        try:
            token = self._cache.load()
            if token is None:
                token = _KEPT.get(self._key)  # minted here when the cache could not store it
            if token is None or not token.usable(rejected):
                with self._cache.lock():
                    token = self._cache.load()
                    if token is None or not token.usable(rejected):
                        token = self._minted()
            return token
        except TokenCacheUnavailable as exc:
            self._cache_failed(exc)
        held = self._current
        if held is not None and held.value != rejected:
            return held  # past our refresh margin, perhaps, but Zoho decides whether it still works
        with _KEPT_LOCK:  # single flight in this process at least
            kept = _KEPT.get(self._key)
            return kept if kept is not None and kept.usable(rejected) else self._minted()

    def _minted(self) -> AccessToken:
        """Mint a token and store it; a cache that cannot store it leaves it in this process's memory."""
        token = self._mint()
        self._untried.add(token.value)
        try:
            self._cache.store(token)
        except TokenCacheError as exc:
            self._cache_failed(exc)
            _KEPT[self._key] = token
        return token

    def _cache_failed(self, exc: TokenCacheError) -> None:
        if not self._cache_warned:
            self._cache_warned = True
            log.warning(
                "Token cache failed (%s): going on with this process's access token, kept in memory; "
                "other processes cannot share it until the cache works again",
                exc.message,
            )

    def accepted(self, value: str) -> None:
        """Note that a call made with ``value`` was answered: a later refusal means it went stale."""
        self._untried.discard(value)  # atomic, lock-free: the triggerer's event loop calls this
        self._refused_untried = 0

    def _never_works(self, cause: ZohoCRMError | None) -> ZohoAuthError:
        said = f"{cause.code}: {cause.message}" if cause is not None else "INVALID_TOKEN"
        return ZohoAuthError(
            f"Zoho refused three access tokens in a row, each freshly minted for this connection, before "
            f"accepting any call made with them ({said}): the refresh token's tokens do not work here "
            "(check its scopes and org, the data centre and environment, and auth_scheme)",
            code=cause.code if cause is not None else "INVALID_TOKEN",
            details=cause.details if cause is not None else None,
            http_status=cause.http_status if cause is not None else 401,
        )

    def _mint(self) -> AccessToken:
        start = time.monotonic()
        waits = 0
        while True:
            try:
                token = self._mint_once()
                log.info("Minted a Zoho access token for connection %s", self._settings.conn_id)
                return token
            except ZohoTokenThrottledError as exc:
                waited = time.monotonic() - start
                remaining = self._max_token_wait - waited
                if remaining <= 0:
                    raise ZohoTokenThrottledError(
                        f"{exc.message}; waited {waited:.0f}s (max_token_wait) for the 10-minute window. "
                        "Tokens are cached and shared (the cache extra), so this means other clients use the "
                        "same refresh token, or many hosts without a shared cache: retry later",
                        code=exc.code,
                        http_status=exc.http_status,
                    ) from None
                waits += 1
                delay = min(max(backoff(self._retries.backoff_base * 10, waits, cap=120.0), 0.05), remaining)
                log.warning("Zoho mint throttle hit; waiting %.1fs before asking again", delay)
                self._sleep(delay)

    def _mint_once(self) -> AccessToken:
        s = self._settings
        send = Send(
            "POST",
            f"{s.accounts_url}/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": s.client_id or "",
                "client_secret": s.client_secret or "",
                "refresh_token": s.refresh_token or "",
            },
        )
        plan = retrying(self._retries, send, lambda reply: parse_token_reply(reply, s))
        return run_sync(plan, self._session, s.timeout, sleep=self._sleep)


def token_source(
    settings: ZohoConnectionSettings,
    session: requests.Session,
    retries: Retries,
    max_token_wait: float,
    sleep: Callable[[float], None] = time.sleep,
    on_token: Callable[[str], None] = lambda value: None,
) -> TokenSource:
    """
    Return the token source the connection asks for (static ``access_token`` or refresh-token grant).

    :param settings: the connection.
    :param session: the hook's session.
    :param retries: retries of transient accounts-server failures.
    :param max_token_wait: seconds to wait out the mint throttle.
    :param sleep: how to wait.
    :param on_token: called with every token value handed out.
    """
    if settings.static_token:
        return StaticTokenSource(settings)
    return RefreshTokenSource(settings, session, retries, max_token_wait, sleep=sleep, on_token=on_token)
