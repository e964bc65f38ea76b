"""
Token caches shared by hook instances: file (per host, default), process memory or Redis.

A lock-protected file serves one host; Redis serves many. Each holds only the access token, its
expiry and API domain, under a key that hashes the connection's identity, and offers a lock so
that exactly one caller mints. A cache that is down or full raises :class:`TokenCacheUnavailable`;
the token source then goes on with the token it holds (see :mod:`~.auth.source`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from airflow_crm_provider.zoho.auth.token import AccessToken
from airflow_crm_provider.zoho.errors import ZohoCRMError, ZohoTransientError
from airflow_crm_provider.zoho.settings import FILE_CACHE, MEMORY_CACHE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_crm_provider.zoho.settings import ZohoConnectionSettings


class TokenCacheError(ZohoCRMError):
    """The token cache is not usable (directory, lock or Redis): a local problem, not a Zoho reply."""


class TokenCacheUnavailable(TokenCacheError, ZohoTransientError):
    """The token cache is unreachable or full, or its lock is held too long by another minter: may pass."""


#: Errors of a cache directory that are a passing condition (a full disk, a quota), not a bad setting.
_PASSING_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class TokenCache(Protocol):
    """Where a connection's access token is shared, with a lock for single-flight minting."""

    def load(self) -> AccessToken | None:
        """Return the cached token, if any."""

    def store(self, token: AccessToken) -> None:
        """Replace the cached token."""

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold the mint lock of this connection (exclusive across everyone sharing the cache)."""


def default_cache_dir() -> Path:
    """Return ``<tmp>/airflow-crm-provider-<uid>`` (shared by all processes of this user on this host)."""
    return Path(tempfile.gettempdir()) / f"airflow-crm-provider-{os.getuid()}"


class FileTokenCache:
    """
    One JSON file per connection identity (mode 0600, written atomically) and a ``filelock`` lock file.

    :param key: hash of the connection identity.
    :param directory: cache directory (default :func:`default_cache_dir`, created with mode 0700).
    :param lock_timeout: seconds to wait for another process's mint before giving up.
    """

    def __init__(self, key: str, directory: str | None = None, lock_timeout: float = 900.0) -> None:
        self._dir = Path(directory) if directory else default_cache_dir()
        self._path = self._dir / f"{key}.json"
        self._lock_path = self._dir / f"{key}.lock"
        self._lock_timeout = lock_timeout
        self._own_dir = directory is None

    @contextlib.contextmanager
    def _os_errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            if exc.errno in _PASSING_ERRNOS:
                raise TokenCacheUnavailable(
                    f"token cache directory {self._dir} is full ({exc.strerror}): free space or set the "
                    "cache_dir extra"
                ) from None
            raise TokenCacheError(
                f"token cache directory {self._dir} is not usable ({type(exc).__name__}: {exc.strerror}): "
                "fix its permissions or set the cache_dir extra"
            ) from None

    def _ensure_dir(self) -> None:
        with self._os_errors():
            self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(self._dir)
        private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022
        if self._own_dir and not private:
            raise TokenCacheError(
                f"token cache directory {self._dir} is not a private directory of this user: "
                "remove it or set the cache_dir extra"
            )

    def load(self) -> AccessToken | None:
        """Return the cached token, if the file exists and is readable."""
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(fd, "r", encoding="utf-8") as handle:
            return AccessToken.from_json(handle.read())

    def store(self, token: AccessToken) -> None:
        """Write the token to a private temporary file and move it into place."""
        self._ensure_dir()
        tmp = self._dir / f".{self._path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        with self._os_errors():
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(token.to_json())
                os.replace(tmp, self._path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the exclusive lock on the connection's lock file (``filelock``: ``flock`` on this host)."""
        import filelock

        self._ensure_dir()
        held = filelock.FileLock(str(self._lock_path), timeout=self._lock_timeout, mode=0o600)
        with self._os_errors():  # filelock.Timeout is an OSError too: told apart first
            try:
                held.acquire()
            except filelock.Timeout:
                raise TokenCacheUnavailable(
                    f"timed out after {self._lock_timeout:.0f}s waiting for another process "
                    f"to mint a Zoho access token (lock {self._lock_path})"
                ) from None
        try:
            yield
        finally:
            held.release()


_MEMORY: dict[str, AccessToken] = {}
_MEMORY_LOCKS: dict[str, threading.Lock] = {}
_MEMORY_GUARD = threading.Lock()


class MemoryTokenCache:
    """
    Process-wide cache (no sharing between processes).

    :param key: hash of the connection identity.
    """

    def __init__(self, key: str) -> None:
        self._key = key
        with _MEMORY_GUARD:
            self._lock = _MEMORY_LOCKS.setdefault(key, threading.Lock())

    def load(self) -> AccessToken | None:
        """Return the cached token."""
        return _MEMORY.get(self._key)

    def store(self, token: AccessToken) -> None:
        """Replace the cached token."""
        _MEMORY[self._key] = token

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the process-wide lock of this connection."""
        with self._lock:
            yield


class RedisTokenCache:
    """
    Cache in Redis (across hosts) with a Redis lock for single-flight minting.

    :param url: ``redis://`` or ``rediss://`` URL (its password is a secret).
    :param key: hash of the connection identity.
    :param lock_timeout: seconds a lock may be held, and waited for.
    """

    def __init__(self, url: str, key: str, lock_timeout: float = 900.0) -> None:
        import redis

        self._errors = (redis.RedisError, OSError)
        parts = urlsplit(url)
        self._where = f"redis at {parts.hostname}:{parts.port or 6379}"
        self._client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._key = f"airflow-crm-provider:token:{key}"
        self._lock_timeout = lock_timeout

    @contextlib.contextmanager
    def _errors_as_zoho(self) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise TokenCacheUnavailable(f"token cache {self._where} failed: {type(exc).__name__}") from None

    def load(self) -> AccessToken | None:
        """Return the cached token."""
        with self._errors_as_zoho():
            return AccessToken.from_json(self._client.get(self._key))

    def store(self, token: AccessToken) -> None:
        """Replace the cached token; Redis drops it when it expires."""
        ttl_ms = max(1, int((token.expires_at - time.time()) * 1000))
        with self._errors_as_zoho():
            self._client.set(self._key, token.to_json(), px=ttl_ms)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the Redis lock of this connection."""
        with self._errors_as_zoho():
            lock = self._client.lock(
                f"{self._key}:lock", timeout=self._lock_timeout, blocking_timeout=self._lock_timeout
            )
            acquired = lock.acquire()
        if not acquired:
            raise TokenCacheUnavailable(
                f"timed out after {self._lock_timeout:.0f}s waiting for the token lock in {self._where}"
            )
        try:
            yield
        finally:
            with contextlib.suppress(*self._errors):
                lock.release()


def open_token_cache(settings: ZohoConnectionSettings, lock_timeout: float) -> TokenCache:
    """
    Return the cache the connection asks for (``cache``: file, memory or a Redis URL).

    :param settings: the connection.
    :param lock_timeout: seconds to wait for another caller's mint.
    """
    key = settings.cache_key()
    if settings.cache == MEMORY_CACHE:
        return MemoryTokenCache(key)
    if settings.cache == FILE_CACHE:
        return FileTokenCache(key, settings.cache_dir, lock_timeout)
    return RedisTokenCache(settings.cache, key, lock_timeout)
