"""Zoho OAuth: access tokens, the refresh-token grant and the token caches shared across processes."""

from __future__ import annotations

from airflow_crm_provider.zoho.auth.cache import (
    FileTokenCache,
    MemoryTokenCache,
    RedisTokenCache,
    TokenCache,
    TokenCacheError,
    TokenCacheUnavailable,
    default_cache_dir,
    open_token_cache,
)
from airflow_crm_provider.zoho.auth.source import (
    MAX_TOKEN_WAIT,
    RefreshTokenSource,
    StaticTokenSource,
    TokenSource,
    token_source,
)
from airflow_crm_provider.zoho.auth.token import AccessToken, lifetime_seconds, parse_token_reply

__all__ = [
    "MAX_TOKEN_WAIT",
    "AccessToken",
    "FileTokenCache",
    "MemoryTokenCache",
    "RedisTokenCache",
    "RefreshTokenSource",
    "StaticTokenSource",
    "TokenCache",
    "TokenCacheError",
    "TokenCacheUnavailable",
    "TokenSource",
    "default_cache_dir",
    "lifetime_seconds",
    "open_token_cache",
    "parse_token_reply",
    "token_source",
]
