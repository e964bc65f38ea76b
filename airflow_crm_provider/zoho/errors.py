"""
Zoho CRM's error codes (code -> default class) and the client's typed exceptions.

The one source of truth for how a Zoho code is treated: the operators apply the user's overrides on
top of :data:`DEFAULT_ERROR_CLASSES`, and the client raises the exceptions below so that callers and
Airflow 3.3 ``retry_policy`` rules can target them by type.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeGuard


class ErrorClass(str, Enum):
    """What a Zoho code does to a record or a request."""

    FAIL = "fail"
    SOFT = "soft"
    RETRY = "retry"
    IGNORE = "ignore"


#: Default class of each Zoho code. Codes missing here fail closed (``FAIL``).
DEFAULT_ERROR_CLASSES: dict[str, ErrorClass] = {
    # fail: retrying a bad field, bad credential or bad request cannot help
    "INVALID_DATA": ErrorClass.FAIL,
    "MANDATORY_NOT_FOUND": ErrorClass.FAIL,
    "INVALID_MODULE": ErrorClass.FAIL,
    "INVALID_URL_PATTERN": ErrorClass.FAIL,
    "INVALID_REQUEST_METHOD": ErrorClass.FAIL,
    "OAUTH_SCOPE_MISMATCH": ErrorClass.FAIL,
    "NO_PERMISSION": ErrorClass.FAIL,
    "AUTHORIZATION_FAILED": ErrorClass.FAIL,
    "AUTHENTICATION_FAILURE": ErrorClass.FAIL,
    "INVALID_TOKEN": ErrorClass.FAIL,
    "INVALID_OAUTHTOKEN": ErrorClass.FAIL,
    "LIMIT_EXCEEDED": ErrorClass.FAIL,
    "CANNOT_PERFORM_ACTION": ErrorClass.FAIL,
    # soft: the record (or view) is not in a state that can be updated now
    "NOT_APPROVED": ErrorClass.SOFT,
    "RECORD_IN_BLUEPRINT": ErrorClass.SOFT,
    "CANNOT_PROCESS": ErrorClass.SOFT,
    "NO_RECORDS_FOUND": ErrorClass.SOFT,
    "ALREADY_SCHEDULED": ErrorClass.SOFT,
    # ours: a revert leaves alone a record someone changed after the run it undoes
    "CHANGED_SINCE": ErrorClass.SOFT,
    # retry: transient; re-sent with backoff inside the task
    "RECORD_LOCKED": ErrorClass.RETRY,
    "TOO_MANY_REQUESTS": ErrorClass.RETRY,
    "INTERNAL_ERROR": ErrorClass.RETRY,
}

#: Codes that mean "the access token is not usable": refresh once and replay once.
#: (``INVALID_OAUTHTOKEN`` is how Zoho's Accounts docs name an evicted token.)
TOKEN_REJECTED_CODES = frozenset({"INVALID_TOKEN", "INVALID_OAUTHTOKEN", "AUTHENTICATION_FAILURE"})


def classify(code: str | None, overrides: dict[str, ErrorClass] | None = None) -> ErrorClass:
    """
    Return the class of a Zoho code: a user override, else the default, else ``FAIL``.

    :param code: Zoho's ``code`` (``SUCCESS`` is not classified here).
    :param overrides: per-code classes chosen by the user.
    """
    key = (code or "").upper()
    if overrides and key in overrides:
        return overrides[key]
    return DEFAULT_ERROR_CLASSES.get(key, ErrorClass.FAIL)


def parse_error_policy(policy: dict[str, str] | None) -> dict[str, ErrorClass]:
    """
    Validate a user's ``error_policy`` mapping (``{"NOT_APPROVED": "fail"}``).

    :param policy: Zoho code -> one of ``fail``, ``soft``, ``retry``, ``ignore``.
    :raises ValueError: naming every entry that is not a known class.
    """
    if not policy:
        return {}
    if not isinstance(policy, dict):
        raise ValueError(f"error_policy must be a mapping of Zoho code to class, got {type(policy).__name__}")
    allowed = {c.value for c in ErrorClass}
    codes = [k for k in policy if not (isinstance(k, str) and k.strip() and k.replace("_", "").isalnum())]
    if codes:
        raise ValueError(f"error_policy keys must be Zoho codes such as 'NOT_APPROVED', got {codes!r}")
    bad = {k: v for k, v in policy.items() if str(v).lower() not in allowed}
    if bad:
        raise ValueError(f"error_policy has unknown classes {bad!r}; use one of {sorted(allowed)}")
    return {str(k).upper(): ErrorClass(str(v).lower()) for k, v in policy.items()}


class ZohoCRMError(Exception):
    """
    Base error: a Zoho reply, or a failure to get one.

    :param message: human-readable text (never contains a secret).
    :param code: Zoho's ``code`` (or OAuth ``error``), if any.
    :param details: Zoho's ``details`` object.
    :param http_status: HTTP status of the reply, if there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        http_status: int | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.details = details or {}
        self.http_status = http_status
        super().__init__(self.describe())

    def as_retryable(self, what: str) -> ZohoTransientError:
        """
        Return a transient copy of this rejection, for codes that ``error_policy`` classes as retry.

        :param what: what did not happen, e.g. ``"Zoho still rejected the request"``.
        """
        return ZohoTransientError(
            f"{what} ({self.describe()}); error_policy says retry, so Airflow retries apply",
            code=self.code,
            details=self.details,
            http_status=self.http_status,
        )

    def describe(self) -> str:
        """Return ``CODE: message (details) [HTTP n]`` for logs and task failure text."""
        text = f"{self.code}: {self.message}" if self.code else self.message
        if self.details:
            text += f" (details: {self.details})"
        if self.http_status is not None:
            text += f" [HTTP {self.http_status}]"
        return text


class ZohoRequestError(ZohoCRMError):
    """A request-level rejection (bad field, missing ids, bad module...): do not retry."""


class ZohoAuthError(ZohoCRMError):
    """Credentials or token rejected, after one refresh and replay where that applies."""


class ZohoTokenThrottledError(ZohoAuthError):
    """The accounts server refused to mint: at most 10 access tokens per refresh token per 10 min."""


class ZohoTransientError(ZohoCRMError):
    """A failure that may pass: still failing after the hook's own retries. Task retries apply."""


class ZohoRateLimitError(ZohoTransientError):
    """
    HTTP 429 ``TOO_MANY_REQUESTS`` of the concurrency limit (spent credits: another class, below).

    :param retry_after: seconds the server asked us to wait, if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ZohoCreditsExhaustedError(ZohoCRMError):
    """
    HTTP 429 because the org's API credits are spent (not the concurrency limit): never retried.

    Credits come back over a rolling 24 hours, so retrying in minutes (or an Airflow retry) cannot
    help; not a :class:`ZohoTransientError`, and not in :data:`RETRYABLE_ERRORS`.
    """

    def describe(self) -> str:
        """Return Zoho's words, then what they mean."""
        return (
            f"{super().describe()}: the org's Zoho CRM API credits are spent; they come back over a "
            "rolling 24 hours, so retrying in minutes cannot help"
        )


class ZohoCreditFloorError(ZohoCRMError):
    """Fewer API credits remain than the caller's floor (``min_credits_remaining``): nothing more is sent."""


#: Words of Zoho's 429 messages that mean the daily credits are spent, as opposed to the concurrency
#: limit ("Concurrency limit of the user for the app exceeded"): the current "API request limit
#: exceeded for the past 24 hours", the older "Many requests fired than the allowed limit for the
#: past 24 hours", and wordings that name a day or credits.
CREDIT_EXHAUSTION_WORDS = ("24 hours", "24 hrs", "daily", "per day", "credit")


def is_credit_exhaustion(message: str | None, credits_remaining: int | None = None) -> bool:
    """
    Tell a 429 for spent credits from a concurrency 429 (Zoho gives both one code).

    :param message: Zoho's ``message`` (or ``error_info``) of the 429.
    :param credits_remaining: the reply's ``X-API-CREDITS-REMAINING``, if it had one: 0 means spent.
    """
    if credits_remaining == 0:
        return True
    text = (message or "").lower()
    return any(word in text for word in CREDIT_EXHAUSTION_WORDS)


class TokenRejected(ZohoAuthError):
    """Zoho refused the access token (``INVALID_TOKEN``, ``AUTHENTICATION_FAILURE`` or a bare 401)."""


class ZohoServerError(ZohoTransientError):
    """HTTP 5xx or ``INTERNAL_ERROR``."""


class ZohoConnectionError(ZohoTransientError):
    """
    Timeout, refused or dropped connection.

    :param maybe_delivered: the request may have reached Zoho (read timeout, dropped connection), as
        opposed to a connection that was never made.
    """

    def __init__(self, message: str, *, maybe_delivered: bool = True, **kwargs: Any) -> None:
        self.maybe_delivered = maybe_delivered
        super().__init__(message, **kwargs)


#: Errors a task retry may overcome (still failing after the client's own retries, or the token-mint
#: throttle not yet over): they end the task as retryable, so Airflow ``retries`` apply.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (ZohoTransientError, ZohoTokenThrottledError)


def is_final(err: BaseException) -> TypeGuard[ZohoCRMError]:
    """
    Tell whether an error ends a run for good: a Zoho error that no task retry can overcome.

    Anything else (a transient Zoho error, a bug, the task being stopped) may pass, so a retry applies.

    :param err: what a call or a read raised.
    """
    return isinstance(err, ZohoCRMError) and not isinstance(err, RETRYABLE_ERRORS)


#: Errors that mean the org's API credits are spent, or below the caller's floor: a run stops at once,
#: fails, and is neither retried by Airflow nor re-sent in the task (credits come back over 24 hours).
CREDIT_ERRORS: tuple[type[ZohoCRMError], ...] = (ZohoCreditsExhaustedError, ZohoCreditFloorError)
