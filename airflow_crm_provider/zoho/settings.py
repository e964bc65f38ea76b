"""
Where and how to reach a Zoho CRM org: data centres, URL rules, Zoho's limits, parsed settings.

One table (:data:`DATA_CENTERS` x :data:`ENVIRONMENTS`) maps a data centre and environment to the
accounts and API URLs; explicit ``accounts_url``/``api_url`` override it (tests, emulator). Plain
``http`` is refused unless the host is a loopback address. Zoho's per-call limits live here too, so
every layer reads them from one place.
"""

from __future__ import annotations

import contextlib
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

#: The Airflow connection id used when none is given (hook, operators).
DEFAULT_CONN_ID = "zoho_crm_default"
DEFAULT_DATA_CENTER = "us"
DEFAULT_ENVIRONMENT = "production"
DEFAULT_API_VERSION = "v8"
DEFAULT_AUTH_SCHEME = "Zoho-oauthtoken"
FILE_CACHE = "file"
MEMORY_CACHE = "memory"
DEFAULT_CACHE = FILE_CACHE
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Well within a request's retry budget (:class:`~.retries.Retries`): a hung call is tried again in time.
DEFAULT_READ_TIMEOUT = 30.0

#: Zoho's limits: ids per mass update call, records per Update Records or Upsert call, ids per record
#: read, heavy calls (mass update) in flight per org, fields per mass update call (Deals: 3, most: 1).
MAX_MASS_UPDATE_IDS = 500
MAX_RECORDS_PER_WRITE = 100
MAX_GET_RECORD_IDS = 100
MAX_CONCURRENCY = 10
MAX_FIELDS_PER_CALL = 3

#: A Zoho API name (module or field): a letter, then letters, digits and ``_`` (``\Z``: no newline).
API_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\Z")
_API_VERSION_RE = re.compile(r"^v\d+(\.\d+)?$")
_ZOHO_API_TLDS = sorted({suffix.removeprefix("zohoapis.") for _, suffix in DATA_CENTERS.values()} | {"ae"})
_ZOHO_API_HOST_RE = re.compile(
    r"^([a-z0-9-]+\.)*zohoapis\.(" + "|".join(map(re.escape, _ZOHO_API_TLDS)) + r")$"
)


class ZohoConnectionConfigError(ValueError):
    """The connection is incomplete or has an invalid setting (the message names which)."""


def module_name(value: object, error: type[ValueError] = ValueError) -> str:
    """
    Return ``value`` stripped if it is a Zoho module API name (``Leads``, ``Sales_Orders``), else raise.

    :param value: the name.
    :param error: the exception type to raise.
    """
    text = value.strip() if isinstance(value, str) else None
    if text is None or not API_NAME_RE.match(text):
        raise error(f"module must be a Zoho module API name such as 'Leads', got {value!r}")
    return text


def seconds(
    value: object,
    what: str,
    *,
    zero_ok: bool = False,
    text_ok: bool = False,
    error: type[ValueError] = ValueError,
) -> float:
    """
    Return ``value`` as a finite number of seconds above zero (or at zero, with ``zero_ok``), else raise.

    Booleans, NaN and infinity are refused; numeric text only with ``text_ok`` (connection extras).

    :param value: the value.
    :param what: the setting's name, for the message.
    :param zero_ok: accept 0.
    :param text_ok: accept numeric text.
    :param error: the exception type to raise.
    """
    number = math.nan
    kinds = (int, float, str) if text_ok else (int, float)
    if isinstance(value, kinds) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):
            number = float(value)
    if not (math.isfinite(number) and (number > 0 or (zero_ok and number == 0))):
        bound = "a non-negative" if zero_ok else "a positive"
        raise error(f"{what} must be {bound} number of seconds, got {value!r}")
    return number


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
    cache: str = field(default=DEFAULT_CACHE, repr=False)
    cache_dir: str | None = None
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
        password = urlsplit(self.cache).password if "://" in self.cache else None
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
        cache = opt("cache") or DEFAULT_CACHE
        if cache not in (FILE_CACHE, MEMORY_CACHE) and not cache.startswith(("redis://", "rediss://")):
            raise ZohoConnectionConfigError("cache must be 'file', 'memory' or a redis:// URL")

        settings = cls(
            conn_id=conn_id,
            accounts_url=accounts_url,
            api_url=api_url,
            api_url_overridden=api_url_extra is not None,
            data_center=data_center,
            environment=environment,
            api_version=api_version,
            auth_scheme=auth_scheme,
            cache=cache,
            cache_dir=opt("cache_dir"),
            connect_timeout=_timeout(opt("connect_timeout"), "connect_timeout", DEFAULT_CONNECT_TIMEOUT),
            read_timeout=_timeout(opt("read_timeout"), "read_timeout", DEFAULT_READ_TIMEOUT),
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


def _timeout(value: str | None, what: str, default: float) -> float:
    return default if value is None else seconds(value, what, text_ok=True, error=ZohoConnectionConfigError)
