"""OAuth state of the emulator: refresh tokens, minted access tokens, the mint throttle, grant codes."""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass

from airflow_crm_provider.testing.emulator import defaults


@dataclass
class AccessToken:
    """An access token the emulator minted, and until when it is valid."""

    token: str
    refresh_token: str | None
    expires_at: float


def new_token() -> str:
    """Return a fresh token shaped like Zoho's: ``1000.<32 hex>.<32 hex>``."""
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


class TokenRegistry:
    """Refresh tokens that may mint, access tokens minted, and the mint history per refresh token."""

    def __init__(self) -> None:
        self.refresh_tokens: set[str] = {defaults.REFRESH_TOKEN}
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

    def mint(self, refresh_token: str | None, now: float, ttl: float) -> AccessToken:
        """
        Create an access token valid for ``ttl`` seconds (counted against ``refresh_token``'s throttle).

        :param refresh_token: the refresh token it was minted from (None: issued by the admin API).
        :param now: the current time.
        :param ttl: lifetime in seconds.
        """
        token = AccessToken(new_token(), refresh_token, now + ttl)
        self.access[token.token] = token
        if refresh_token is not None:
            self._mints.setdefault(refresh_token, deque()).append(now)
        return token

    def exchange_code(self, code: str) -> str | None:
        """
        Use up a grant code and return the new refresh token it yields (None if unknown or used).

        :param code: the self-client grant code.
        """
        if code not in self.grant_codes:
            return None
        self.grant_codes.discard(code)
        refresh_token = new_token()
        self.refresh_tokens.add(refresh_token)
        return refresh_token

    def valid(self, token: str, now: float) -> AccessToken | None:
        """
        Return the access token if it is known and not expired.

        :param token: the token from the ``Authorization`` header.
        :param now: the current time.
        """
        found = self.access.get(token)
        return found if found is not None and found.expires_at > now else None

    def expire_all(self, now: float) -> int:
        """Make every issued access token invalid from now on and return how many were live."""
        live = [t for t in self.access.values() if t.expires_at > now]
        for token in live:
            token.expires_at = now
        return len(live)
