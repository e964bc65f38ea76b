"""
OAuth state of the emulator.

Refresh tokens and their scopes, access tokens, the mint throttle, the active-token limit (the 16th
token evicts the oldest), grant codes.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field

from airflow_crm_provider.testing.emulator import defaults

#: Scopes granted when none are asked for: everything the emulator serves.
FULL_SCOPES: tuple[str, ...] = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.mass_update.ALL",
    "ZohoCRM.settings.ALL",
    "ZohoCRM.org.READ",
    "ZohoCRM.users.READ",
)


@dataclass
class AccessToken:
    """An access token the emulator minted: until when it is valid, for which app and scopes."""

    token: str
    refresh_token: str | None
    expires_at: float
    client_id: str = defaults.CLIENT_ID
    scopes: tuple[str, ...] = FULL_SCOPES
    #: set when a newer token pushed this one out of its refresh token's active set
    evicted: bool = False


@dataclass
class RefreshToken:
    """A refresh token: the app it belongs to and the scopes its access tokens carry."""

    client_id: str
    scopes: tuple[str, ...]
    #: access tokens minted from it, oldest first (expired and evicted ones are dropped lazily)
    active: deque[AccessToken] = field(default_factory=deque)


def new_token() -> str:
    """Return a fresh token shaped like Zoho's: ``1000.<32 hex>.<32 hex>``."""
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


def covers(granted: tuple[str, ...], needed: str) -> bool:
    """
    Tell whether any granted scope covers ``needed`` (``ZohoCRM.<group>[.<name>].<OPERATION>``).

    ``ZohoCRM.mass_update.ALL`` covers ``ZohoCRM.mass_update.leads.UPDATE``; ``ZohoCRM.mass_update.UPDATE``
    covers it too; ``ZohoCRM.mass_update.leads.ALL`` covers every operation on leads only. Matching is
    case-insensitive, as Zoho's scope names are.

    :param granted: the token's scopes.
    :param needed: the scope the endpoint asks for.
    """
    service, group, *rest = needed.lower().split(".")
    name, operation = (rest[0], rest[1]) if len(rest) == 2 else (None, rest[0])
    for scope in granted:
        parts = scope.lower().split(".")
        if len(parts) < 3 or parts[0] != service or parts[1] != group:
            continue
        if len(parts) == 3 and parts[2] in ("all", operation):
            return True
        if len(parts) == 4 and parts[2] == name and parts[3] in ("all", operation):
            return True
    return False


class TokenRegistry:
    """Refresh tokens that may mint, access tokens minted, and the mint history per refresh token."""

    def __init__(self) -> None:
        self.refresh_tokens: dict[str, RefreshToken] = {
            defaults.REFRESH_TOKEN: RefreshToken(defaults.CLIENT_ID, FULL_SCOPES)
        }
        #: client id -> client secret of every registered app
        self.clients: dict[str, str] = {defaults.CLIENT_ID: defaults.CLIENT_SECRET}
        self.grant_codes: set[str] = {defaults.EMULATOR_GRANT_CODE}
        self.access: dict[str, AccessToken] = {}
        self._mints: dict[str, deque[float]] = {}

    def may_mint(self, refresh_token: str, now: float, limit: int, window: float) -> bool:
        """
        Tell whether ``refresh_token`` is under the mint throttle (``limit`` per ``window`` seconds).

        :param refresh_token: a known refresh token.
        :param now: the current time (``time.time()``).
        :param limit: mints allowed per window.
        :param window: window length in seconds.
        """
        history = self._mints.setdefault(refresh_token, deque())
        while history and history[0] <= now - window:
            history.popleft()
        return len(history) < limit

    def mint(
        self,
        refresh_token: str | None,
        now: float,
        ttl: float,
        *,
        active_limit: int | None = None,
        client_id: str = defaults.CLIENT_ID,
        scopes: tuple[str, ...] = FULL_SCOPES,
    ) -> AccessToken:
        """
        Create an access token valid for ``ttl`` seconds.

        A token from a refresh token counts against its mint throttle, carries its app and scopes,
        and evicts the oldest live token of that refresh token once ``active_limit`` are live.

        :param refresh_token: the refresh token it was minted from (None: issued by the admin API).
        :param now: the current time.
        :param ttl: lifetime in seconds.
        :param active_limit: live access tokens allowed per refresh token (None: no limit).
        :param client_id: the app of an admin-issued token.
        :param scopes: the scopes of an admin-issued token.
        """
        parent = self.refresh_tokens.get(refresh_token) if refresh_token is not None else None
        if parent is not None:
            client_id, scopes = parent.client_id, parent.scopes
        token = AccessToken(new_token(), refresh_token, now + ttl, client_id, tuple(scopes))
        self.access[token.token] = token
        if refresh_token is not None:
            self._mints.setdefault(refresh_token, deque()).append(now)
        if parent is not None:
            active = parent.active
            live = deque(t for t in active if not t.evicted and t.expires_at > now)
            live.append(token)
            while active_limit is not None and len(live) > active_limit:
                live.popleft().evicted = True
            parent.active = live
        return token

    def add_refresh_token(
        self, client_id: str, scopes: tuple[str, ...], client_secret: str | None = None
    ) -> str:
        """
        Create a refresh token of ``client_id`` whose access tokens carry ``scopes``, and return it.

        :param client_id: the app the token belongs to (registered with ``client_secret`` if new).
        :param scopes: the scopes granted.
        :param client_secret: the secret of a new app.
        :raises ValueError: for a new app without a secret, or a known one with another secret.
        """
        known = self.clients.get(client_id)
        if known is None and not client_secret:
            raise ValueError(f"client {client_id!r} is new: give its client_secret")
        if known is not None and client_secret and client_secret != known:
            raise ValueError(f"client {client_id!r} is registered with another client_secret")
        self.clients.setdefault(client_id, client_secret or "")
        refresh_token = new_token()
        self.refresh_tokens[refresh_token] = RefreshToken(client_id, tuple(scopes))
        return refresh_token

    def exchange_code(self, code: str) -> str | None:
        """
        Use up a grant code and return the new refresh token it yields (None if unknown or used).

        :param code: the self-client grant code.
        """
        if code not in self.grant_codes:
            return None
        self.grant_codes.discard(code)
        return self.add_refresh_token(defaults.CLIENT_ID, FULL_SCOPES)

    def find(self, token: str) -> AccessToken | None:
        """
        Return the access token the emulator issued under this string, live or not.

        :param token: the token from the ``Authorization`` header.
        """
        return self.access.get(token)

    def expire_all(self, now: float) -> int:
        """Make every issued access token invalid from now on and return how many were live."""
        live = [t for t in self.access.values() if t.expires_at > now and not t.evicted]
        for token in live:
            token.expires_at = now
        return len(live)
