"""Access tokens and the parsing of Zoho's token endpoint replies (errors come under HTTP 200)."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.zoho.errors import (
    ZohoAuthError,
    ZohoRateLimitError,
    ZohoServerError,
    ZohoTokenThrottledError,
)
from airflow_crm_provider.zoho.settings import is_trusted_api_domain

if TYPE_CHECKING:
    from airflow_crm_provider.zoho.http import Reply
    from airflow_crm_provider.zoho.settings import ZohoConnectionSettings

log = logging.getLogger(__name__)

#: Refresh this long before expiry (capped at a quarter of short lifetimes).
REFRESH_MARGIN = 300.0
DEFAULT_LIFETIME = 3600.0


@dataclass(frozen=True)
class AccessToken:
    """
    An access token and what the cache keeps with it (never the refresh token or client secret).

    :param value: the token (secret: kept out of ``repr``).
    :param expires_at: epoch seconds after which it is no longer used (Zoho's expiry minus a margin).
    :param api_domain: the token reply's ``api_domain`` if it may receive the token, else ``None``.
    """

    value: str = field(repr=False)
    expires_at: float
    api_domain: str | None = None

    def usable(self, rejected: str | None = None) -> bool:
        """Return whether the token is not expired and is not the one Zoho just rejected."""
        return self.value != rejected and time.time() < self.expires_at

    def to_json(self) -> str:
        """Serialise for a token cache."""
        return json.dumps(
            {"access_token": self.value, "expires_at": self.expires_at, "api_domain": self.api_domain}
        )

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> AccessToken | None:
        """Deserialise a cache entry; ``None`` if it is missing or unreadable."""
        try:
            data = json.loads(raw) if raw else {}
            return cls(str(data["access_token"]), float(data["expires_at"]), data.get("api_domain") or None)
        except (ValueError, TypeError, KeyError):
            return None


def static_token(settings: ZohoConnectionSettings) -> AccessToken:
    """Return the connection's static access token (never expires locally; Zoho decides)."""
    return AccessToken(settings.access_token or "", math.inf, None)


def lifetime_seconds(body: dict[str, Any]) -> float:
    """
    Return a token's lifetime from ``expires_in`` (seconds), legacy ``expires_in`` (ms) or ``expires_in_sec``.

    A missing, non-numeric, negative or non-finite value gives the default lifetime (one hour).

    :param body: the token reply.
    """
    try:
        if body.get("expires_in_sec") is not None:
            value = float(body["expires_in_sec"])
        else:
            value = float(body.get("expires_in", DEFAULT_LIFETIME))
            value = value / 1000.0 if value > 86400 else value
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME
    return value if math.isfinite(value) and value >= 0 else DEFAULT_LIFETIME


def parse_token_reply(reply: Reply, settings: ZohoConnectionSettings) -> AccessToken:
    """
    Turn a refresh-token grant reply into an :class:`AccessToken`, or raise the error it carries.

    :param reply: the accounts server's reply.
    :param settings: the connection (accounts and API URLs for messages and ``api_domain`` checks).
    :raises ZohoTokenThrottledError: "Access Denied" (mint throttle).
    :raises ZohoAuthError: ``invalid_client``, ``invalid_code`` or any other refusal.
    """
    body = reply.json()
    where = settings.accounts_url
    if reply.status == 429:
        raise ZohoRateLimitError(
            f"accounts server {where} is rate limiting", http_status=429, retry_after=reply.retry_after()
        )
    if reply.status >= 500:
        raise ZohoServerError(f"accounts server {where} failed", http_status=reply.status)
    if not isinstance(body, dict):
        raise ZohoAuthError(
            f"accounts server {where} sent no JSON token reply: is accounts_url right?",
            http_status=reply.status,
        )
    error = body.get("error")
    if error:
        raise _token_error(str(error), str(body.get("error_description") or ""), where, reply.status)
    token = body.get("access_token")
    if not token:
        raise ZohoAuthError(
            f"accounts server {where} sent a reply without access_token", http_status=reply.status
        )
    lifetime = lifetime_seconds(body)
    api_domain = body.get("api_domain")
    if api_domain and not (is_trusted_api_domain(api_domain) or api_domain.rstrip("/") == settings.api_url):
        log.warning("Ignoring api_domain %s from the token reply: not an https Zoho API domain", api_domain)
        api_domain = None
    margin = min(REFRESH_MARGIN, lifetime / 4)
    return AccessToken(str(token), time.time() + lifetime - margin, api_domain or None)


def _token_error(error: str, description: str, where: str, status: int) -> ZohoAuthError:
    said = f" (Zoho said: {description})" if description else ""
    if error.lower().replace(" ", "_") == "access_denied":
        return ZohoTokenThrottledError(
            f"accounts server {where} refused to mint an access token{said}: a refresh token may mint "
            "at most 10 access tokens per 10 minutes",
            code=error,
            http_status=status,
        )
    if error == "invalid_client":
        return ZohoAuthError(
            f"accounts server {where} rejected the client (invalid_client): wrong client id or secret, "
            "or wrong data centre (set data_center or accounts_url to where the Zoho account lives)",
            code=error,
            http_status=status,
        )
    if error == "invalid_code":
        return ZohoAuthError(
            "refresh token invalid or revoked (invalid_code): generate a new one from the Zoho self client",
            code=error,
            http_status=status,
        )
    return ZohoAuthError(
        f"accounts server {where} refused the token request: {error}{said}", code=error, http_status=status
    )
