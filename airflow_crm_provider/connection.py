"""
The ``zoho_crm`` connection: data-centre URLs, parsed settings and the connection form.

One table (:data:`DATA_CENTERS` x :data:`ENVIRONMENTS`) maps a data centre and environment to the
accounts and API URLs; explicit ``accounts_url``/``api_url`` extras override it (tests, emulator).
Plain ``http`` is refused unless the host is a loopback address.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping
    from urllib.parse import SplitResult

#: Data centre -> (accounts server, API domain suffix).
DATA_CENTERS: dict[str, tuple[str, str]] = {
    "us": ("https://accounts.zoho.com", "zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "zohoapis.in"),
    "au": ("https://accounts.zoho.com.au", "zohoapis.com.au"),
    "jp": ("https://accounts.zoho.jp", "zohoapis.jp"),
    "cn": ("https://accounts.zoho.com.cn", "zohoapis.com.cn"),
    "ca": ("https://accounts.zohocloud.ca", "zohoapis.ca"),
    "sa": ("https://accounts.zoho.sa", "zohoapis.sa"),
    "uk": ("https://accounts.zoho.uk", "zohoapis.uk"),
}
#: Environment -> host prefix of the API domain (the accounts server is the same for all).
ENVIRONMENTS: dict[str, str] = {"production": "www", "sandbox": "sandbox", "developer": "developer"}
AUTH_SCHEMES = ("Zoho-oauthtoken", "Bearer")

DEFAULT_DATA_CENTER = "us"
DEFAULT_ENVIRONMENT = "production"
DEFAULT_API_VERSION = "v8"
DEFAULT_AUTH_SCHEME = "Zoho-oauthtoken"
FILE_CACHE = "file"
MEMORY_CACHE = "memory"
DEFAULT_TOKEN_CACHE = FILE_CACHE
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 120.0

_API_VERSION_RE = re.compile(r"^v\d+(\.\d+)?$")
_ZOHO_API_TLDS = sorted({suffix.removeprefix("zohoapis.") for _, suffix in DATA_CENTERS.values()} | {"ae"})
_ZOHO_API_HOST_RE = re.compile(
    r"^([a-z0-9-]+\.)*zohoapis\.(" + "|".join(map(re.escape, _ZOHO_API_TLDS)) + r")$"
)


class ZohoConnectionConfigError(ValueError):
    """The connection is incomplete or has an invalid setting (the message names which)."""


def is_loopback(host: str | None) -> bool:
    """
    Return whether ``host`` is a loopback host (``localhost``, 127.0.0.0/8 or ``::1``).

    :param host: a host name or IP literal.
    """
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_base_url(url: str, what: str) -> str:
    """
    Return ``url`` without a trailing slash if it is a safe base URL, else raise.

    :param url: an ``https`` URL, or ``http`` on a loopback host; no credentials, query or fragment.
    :param what: the setting's name, for the error message.
    :raises ZohoConnectionConfigError: naming the setting and the problem.
    """
    text = str(url).strip()
    if "@" in text:  # checked first: an error message must not echo credentials
        raise ZohoConnectionConfigError(f"{what} must not carry credentials")
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ZohoConnectionConfigError(f"{what} must be an absolute https URL, got {text!r}")
    if _port(parts) is False:
        raise ZohoConnectionConfigError(f"{what} has an invalid port: {text!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ZohoConnectionConfigError(
            f"{what} uses plain http on {parts.hostname!r}: use https (http is allowed for loopback only)"
        )
    if parts.query or parts.fragment:
        raise ZohoConnectionConfigError(f"{what} must not carry a query or a fragment")
    return parts.geturl().rstrip("/")


def _port(parts: SplitResult) -> int | Literal[False] | None:
    """Return the URL's port, ``None`` if it has none, ``False`` if it is not a valid port."""
    try:
        return parts.port
    except ValueError:
        return False


def is_trusted_api_domain(api_domain: str | None) -> bool:
    """
    Return whether a token reply's ``api_domain`` is an https Zoho API domain (``*.zohoapis.<tld>``).

    :param api_domain: the ``api_domain`` value from the accounts server.
    """
    if not api_domain:
        return False
    parts = urlsplit(str(api_domain))
    return (
        parts.scheme == "https"
        and _port(parts) in (None, 443)
        and not (parts.username or parts.password or parts.query or parts.fragment)
        and parts.path in ("", "/")
        and bool(_ZOHO_API_HOST_RE.match(parts.hostname or ""))
    )


@dataclass(frozen=True)
class ZohoConnectionSettings:
    """
    Everything the hook needs from a ``zoho_crm`` connection, validated. Secrets stay out of ``repr``.

    :param conn_id: the Airflow connection id.
    :param accounts_url: OAuth accounts server (refresh-token grant).
    :param api_url: CRM API base URL (without ``/crm/<version>``).
    :param api_url_overridden: the user set ``api_url``; a token reply's ``api_domain`` never replaces it.
    """

    conn_id: str
    accounts_url: str
    api_url: str
    api_url_overridden: bool = False
    data_center: str = DEFAULT_DATA_CENTER
    environment: str = DEFAULT_ENVIRONMENT
    api_version: str = DEFAULT_API_VERSION
    auth_scheme: str = DEFAULT_AUTH_SCHEME
    token_cache: str = field(default=DEFAULT_TOKEN_CACHE, repr=False)
    token_cache_dir: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)

    @property
    def static_token(self) -> bool:
        """Whether a fixed ``access_token`` is used instead of the refresh-token grant."""
        return bool(self.access_token)

    @property
    def timeout(self) -> tuple[float, float]:
        """The ``(connect, read)`` timeout of every HTTP call."""
        return (self.connect_timeout, self.read_timeout)

    @property
    def secrets(self) -> list[str]:
        """The secret values of this connection (to mask in logs)."""
        values = [self.client_secret, self.refresh_token, self.access_token]
        password = urlsplit(self.token_cache).password if "://" in self.token_cache else None
        return [v for v in (*values, password) if v]

    def cache_key(self) -> str:
        """Return a hash of the token identity: accounts server, client id, secret and refresh token."""
        identity = (self.accounts_url, self.client_id, self.client_secret, self.refresh_token)
        parts = ["zoho-crm-token/v1", *(value or "" for value in identity)]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]

    def api_base(self, api_domain: str | None) -> str:
        """
        Return the base URL to send a token to.

        A token reply's ``api_domain`` is used only for production without an ``api_url`` override,
        and only when it is an https Zoho API domain (checked when the token is parsed, and again
        here, since a cached token may come from a file or Redis).

        :param api_domain: the trusted ``api_domain`` of the current token, if any.
        """
        if (
            api_domain
            and not self.api_url_overridden
            and self.environment == "production"
            and is_trusted_api_domain(api_domain)
        ):
            return api_domain.rstrip("/")
        return self.api_url

    @classmethod
    def from_connection(cls, conn: Any, extra: Mapping[str, Any]) -> ZohoConnectionSettings:
        """
        Parse and validate an Airflow ``Connection`` of type ``zoho_crm``.

        :param conn: the connection (``login`` = client id, ``password`` = client secret).
        :param extra: its deserialized extras.
        :raises ZohoConnectionConfigError: naming the missing or invalid setting.
        """
        conn_id = str(getattr(conn, "conn_id", None) or "?")

        def opt(key: str) -> str | None:
            value = extra.get(key)
            return None if value is None or str(value).strip() == "" else str(value).strip()

        data_center = _choice(opt("data_center") or DEFAULT_DATA_CENTER, DATA_CENTERS, "data_center")
        environment = _choice(opt("environment") or DEFAULT_ENVIRONMENT, ENVIRONMENTS, "environment")
        accounts, suffix = DATA_CENTERS[data_center]
        api_url_extra = opt("api_url")
        accounts_url = validate_base_url(opt("accounts_url") or accounts, "accounts_url")
        api_url = validate_base_url(
            api_url_extra or f"https://{ENVIRONMENTS[environment]}.{suffix}", "api_url"
        )

        api_version = opt("api_version") or DEFAULT_API_VERSION
        if not _API_VERSION_RE.match(api_version):
            raise ZohoConnectionConfigError(f"api_version must look like 'v8' or 'v2.1', got {api_version!r}")
        scheme = opt("auth_scheme") or DEFAULT_AUTH_SCHEME
        auth_scheme = next((s for s in AUTH_SCHEMES if s.lower() == scheme.lower()), None)
        if auth_scheme is None:
            raise ZohoConnectionConfigError(
                f"auth_scheme must be one of {list(AUTH_SCHEMES)}, got {scheme!r}"
            )
        token_cache = opt("token_cache") or DEFAULT_TOKEN_CACHE
        if token_cache not in (FILE_CACHE, MEMORY_CACHE) and not token_cache.startswith(
            ("redis://", "rediss://")
        ):
            raise ZohoConnectionConfigError("token_cache must be 'file', 'memory' or a redis:// URL")

        settings = cls(
            conn_id=conn_id,
            accounts_url=accounts_url,
            api_url=api_url,
            api_url_overridden=api_url_extra is not None,
            data_center=data_center,
            environment=environment,
            api_version=api_version,
            auth_scheme=auth_scheme,
            token_cache=token_cache,
            token_cache_dir=opt("token_cache_dir"),
            connect_timeout=_seconds(extra, "connect_timeout", DEFAULT_CONNECT_TIMEOUT),
            read_timeout=_seconds(extra, "read_timeout", DEFAULT_READ_TIMEOUT),
            client_id=(getattr(conn, "login", None) or "").strip() or None,
            client_secret=getattr(conn, "password", None) or None,
            refresh_token=opt("refresh_token"),
            access_token=opt("access_token"),
        )
        if not settings.static_token and not (
            settings.client_id and settings.client_secret and settings.refresh_token
        ):
            missing = [
                name
                for name, value in (
                    ("client id (login)", settings.client_id),
                    ("client secret (password)", settings.client_secret),
                    ("refresh_token (extra)", settings.refresh_token),
                )
                if not value
            ]
            raise ZohoConnectionConfigError(
                f"Zoho CRM connection {conn_id!r} is missing {', '.join(missing)}: set all three "
                "(from a Zoho self client), or a static access_token"
            )
        return settings


def _choice(value: str, allowed: Mapping[str, Any], what: str) -> str:
    key = value.lower()
    if key not in allowed:
        raise ZohoConnectionConfigError(f"{what} must be one of {sorted(allowed)}, got {value!r}")
    return key


def _seconds(extra: Mapping[str, Any], key: str, default: float) -> float:
    value = extra.get(key)
    if value is None or str(value).strip() == "":
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ZohoConnectionConfigError(f"{key} must be a positive number of seconds, got {value!r}")
    return seconds


def _string(
    label: str, description: str, *, enum: Any = None, default: Any = None, secret: bool = False
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if enum is not None:
        schema["enum"] = list(enum)
    if default is not None:
        schema["default"] = default
    if secret:
        schema["format"] = "password"
    return {"label": label, "description": description, "schema": schema}


#: Extra fields of the connection form (``conn-fields``, Airflow 3.2+; also drives the 3.1 widgets).
#: Airflow 3.3 shows placeholders of the standard fields only: what a user needs is in the descriptions.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "refresh_token": _string(
        "Refresh token",
        "1000.xxxx.xxxx: from a Zoho self client (exchange a grant code). Empty with a static access token.",
        secret=True,
    ),
    "data_center": _string(
        "Data centre",
        "Where the Zoho account lives: us (zoho.com), eu, in, au, jp, cn, ca, sa or uk.",
        enum=DATA_CENTERS,
        default=DEFAULT_DATA_CENTER,
    ),
    "environment": _string(
        "Environment",
        "Production, sandbox or developer org (each needs its own refresh token).",
        enum=ENVIRONMENTS,
        default=DEFAULT_ENVIRONMENT,
    ),
    "accounts_url": _string(
        "Accounts URL", "Empty: from the data centre (e.g. https://accounts.zoho.eu). Set for tests/emulator."
    ),
    "api_url": _string(
        "API URL",
        "Empty: from data centre and environment (e.g. https://www.zohoapis.eu). Set for tests/emulator.",
    ),
    "api_version": _string(
        "API version", "CRM API version in the path: v8 (default), or e.g. v2.", default="v8"
    ),
    "auth_scheme": _string(
        "Authorization scheme",
        "Header scheme of the access token: Zoho-oauthtoken (Zoho's docs) or Bearer.",
        enum=AUTH_SCHEMES,
        default=DEFAULT_AUTH_SCHEME,
    ),
    "access_token": _string(
        "Static access token",
        "Empty: mint tokens from the refresh token. Else used as is, never refreshed (expires in an hour).",
        secret=True,
    ),
    "token_cache": _string(
        "Token cache",
        "file (per host, default) | memory (per process) | redis://host:6379/0 (shared across hosts).",
    ),
    "token_cache_dir": _string(
        "Token cache directory", "Folder of the file cache. Empty: <tmp>/airflow-crm-provider-<uid>."
    ),
    "connect_timeout": _string(
        "Connect timeout (s)", f"Seconds to establish a connection. Empty: {DEFAULT_CONNECT_TIMEOUT:g}."
    ),
    "read_timeout": _string(
        "Read timeout (s)", f"Seconds to wait for a reply. Empty: {DEFAULT_READ_TIMEOUT:g}."
    ),
}

#: Form behaviour (``ui-field-behaviour``, Airflow 3.2+ spelling with hyphens).
#: The port stays visible: Airflow 3.3's Test button sends a stored empty port as 0, which the server
#: refuses ("host or port differs"); a stored port (443, unused by the hook) is sent back unchanged.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["host", "schema"],
    "relabeling": {"login": "Client ID", "password": "Client Secret", "port": "Port (443)"},
    "placeholders": {
        "login": "1000.XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX (Self Client id, api-console.zoho.com)",
        "password": "Self Client secret",
        "port": "443 (needed by the Test button)",
        "refresh_token": "1000.xxxxxxxx.xxxxxxxx (from exchanging a Self Client grant code)",
        "accounts_url": "empty: from the data centre, e.g. https://accounts.zoho.eu",
        "api_url": "empty: from data centre and environment, e.g. https://www.zohoapis.eu",
        "api_version": "v8",
        "access_token": "empty: mint tokens from the refresh token",
        "token_cache": "file | memory | redis://redis:6379/0",
        "token_cache_dir": "empty: <tmp>/airflow-crm-provider-<uid>",
        "connect_timeout": str(DEFAULT_CONNECT_TIMEOUT),
        "read_timeout": str(DEFAULT_READ_TIMEOUT),
    },
}
