"""
Zoho CRM's replies: errors by code, reply checks and the parsers of each call's reply.

Decisions come from Zoho's ``code`` and the reply's shape (bare error object, or ``data[]``
entries), never from the HTTP status alone. The typed replies (:class:`ZohoEntry`,
:class:`JobStatus`) and what a job's status means (:func:`job_state`) live here too; the calls
that get them are built in :mod:`~airflow_crm_provider.zoho.calls`.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, TypedDict

from airflow_crm_provider.zoho.errors import (
    TOKEN_REJECTED_CODES,
    TokenRejected,
    ZohoAuthError,
    ZohoCreditsExhaustedError,
    ZohoCRMError,
    ZohoRateLimitError,
    ZohoRequestError,
    ZohoServerError,
    is_credit_exhaustion,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_crm_provider.zoho.http import Reply

#: Codes that are credential problems (not retried, not replayed unless in TOKEN_REJECTED_CODES).
AUTH_CODES = TOKEN_REJECTED_CODES | {"OAUTH_SCOPE_MISMATCH"}


class ZohoEntry(TypedDict):
    """
    One ``data[]`` entry of a mass update reply in ids mode, with the record id lifted out.

    ``id`` is the record id as a string (from ``details.id``), or ``None`` when Zoho gave none.
    """

    id: str | None
    status: str
    code: str
    message: str
    details: dict[str, Any]


class JobStatus(TypedDict):
    """The status of a mass update job (cvid/territory mode)."""

    job_id: str
    status: str  # SCHEDULED | RUNNING | COMPLETED | FAILED (others are possible; fail closed)
    total_count: int
    updated_count: int
    failed_count: int
    not_updated_count: int


class JobState(str, Enum):
    """What a job status means for the caller."""

    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"


#: Job statuses that mean "still going"; ``COMPLETED`` and ``FAILED`` end a job, anything else is unknown.
ACTIVE_STATUSES = frozenset({"SCHEDULED", "RUNNING"})


def job_state(job: Mapping[str, Any]) -> JobState:
    """
    Classify a job's ``status``; statuses this client does not know fail closed (``UNKNOWN``).

    :param job: a :class:`JobStatus`.
    """
    status = str(job.get("status") or "").upper()
    if status in ACTIVE_STATUSES:
        return JobState.ACTIVE
    if status == "COMPLETED":
        return JobState.COMPLETED
    if status == "FAILED":
        return JobState.FAILED
    return JobState.UNKNOWN


def error_for(
    code: str | None,
    message: str,
    details: dict[str, Any] | None,
    http_status: int | None,
    retry_after: float | None = None,
    credits_remaining: int | None = None,
) -> ZohoCRMError:
    """
    Return the typed error for a Zoho error code (or HTTP status when there is no code).

    A 429 whose message names the daily limit, or whose ``X-API-CREDITS-REMAINING`` reads 0, is
    :class:`ZohoCreditsExhaustedError` (never retried); any other 429 is a retryable rate limit.

    :param code: Zoho's ``code``.
    :param message: Zoho's ``message``.
    :param details: Zoho's ``details``.
    :param http_status: the reply's status.
    :param retry_after: ``Retry-After`` seconds, for rate limits.
    :param credits_remaining: the reply's ``X-API-CREDITS-REMAINING``, if any.
    """
    kwargs: dict[str, Any] = {"code": code, "details": details, "http_status": http_status}
    status = http_status or 0
    if code == "TOO_MANY_REQUESTS" or (code is None and status == 429):
        if is_credit_exhaustion(message, credits_remaining):
            return ZohoCreditsExhaustedError(message or "API credits exhausted", **kwargs)
        return ZohoRateLimitError(message or "too many requests", retry_after=retry_after, **kwargs)
    if code == "INTERNAL_ERROR" or status >= 500:
        return ZohoServerError(message or "Zoho server error", **kwargs)
    if code in TOKEN_REJECTED_CODES or (code is None and status == 401):
        return TokenRejected(message or "access token rejected", **kwargs)
    if code in AUTH_CODES:
        return ZohoAuthError(message, **kwargs)
    return ZohoRequestError(message or f"unexpected reply (HTTP {status})", **kwargs)


def _details(obj: Mapping[str, Any]) -> dict[str, Any]:
    details = obj.get("details")
    return details if isinstance(details, dict) else {}


def _error_fields(obj: Mapping[str, Any]) -> tuple[str | None, str, dict[str, Any]]:
    code = obj.get("code")
    if not isinstance(code, str):
        code = obj.get("error") if isinstance(obj.get("error"), str) else None
    message = obj.get("message") or obj.get("error_info") or ""
    return code, str(message), _details(obj)


#: Statuses under which Zoho answers a write whose every record failed with one ``data[]`` entry per
#: record (400; 412 when each was ``ALREADY_MODIFIED`` after ``If-Unmodified-Since``).
ENTRY_ERROR_STATUSES = frozenset({400, 412})


def _has_entries(body: Any) -> bool:
    data = body.get("data") if isinstance(body, dict) else None
    return isinstance(data, list) and bool(data) and all(isinstance(e, dict) and "code" in e for e in data)


def check_reply(reply: Reply) -> Any:
    """
    Return a reply's JSON body (``None`` for 204), or raise the typed error it carries.

    A bare ``{code, message, details, status: "error"}`` object is an error whatever the status; a
    400 or 412 whose body is ``data[]`` entries is returned for the parser to read entry by entry.

    :param reply: the HTTP reply.
    """
    body = reply.json()
    bare = isinstance(body, dict) and "data" not in body and ("code" in body or "error" in body)
    if bare and (body.get("status") != "success" or reply.status >= 300):
        code, message, details = _error_fields(body)
        raise error_for(code, message, details, reply.status, reply.retry_after(), reply.credits_remaining())
    if reply.status in ENTRY_ERROR_STATUSES and _has_entries(body):
        return body  # every record failed: the entries say why, one per record (the parser decides)
    if reply.status >= 300:
        raise error_for(
            None,
            f"unexpected HTTP {reply.status} reply",
            None,
            reply.status,
            reply.retry_after(),
            reply.credits_remaining(),
        )
    if reply.status == 204:
        return None
    if body is None:
        raise ZohoRequestError("Zoho sent a reply that is not JSON", http_status=reply.status)
    return body


def entries(body: Any, status: int) -> list[dict[str, Any]]:
    """
    Return the ``data[]`` entries of a reply body.

    :param body: the reply body.
    :param status: its HTTP status (for the error).
    """
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not data or not all(isinstance(e, dict) for e in data):
        raise ZohoRequestError("Zoho reply has no data[] entries", http_status=status)
    return data


def entry_error(entry: Mapping[str, Any], status: int) -> ZohoCRMError:
    """Return the error of a ``data[]`` entry that stands for the whole request."""
    code, message, details = _error_fields(entry)
    return error_for(code, message, details, status)


def parse_mass_update(body: Any, status: int) -> list[ZohoEntry]:
    """
    Return one :class:`ZohoEntry` per ``data[]`` entry, in Zoho's order (ids as strings).

    What every entry of a reply repeats (status, code, message, and the update's ``Modified_Time``
    and ``Modified_By``) is kept once per reply, not once per record.

    :raises ZohoCRMError: for an entry without a record id: a request-level error.
    """
    shared: dict[str, str] = {}

    def once(value: Any) -> str:
        text = str(value or "")
        return shared.setdefault(text, text)

    result: list[ZohoEntry] = []
    for entry in entries(body, status):
        details = _details(entry)
        record_id = details.get("id")
        if record_id is None or record_id == "":
            raise entry_error(entry, status)
        _share_stamp(details, once)
        result.append(
            ZohoEntry(
                id=str(record_id),
                status=once(entry.get("status")),
                code=once(entry.get("code")),
                message=once(entry.get("message")),
                details=details,
            )
        )
    return result


def _share_stamp(details: dict[str, Any], once: Callable[[Any], str]) -> None:
    """Replace the texts of an update's stamp (its time, the user's name and id) by ``once``'s copies."""
    when = details.get("Modified_Time")
    if isinstance(when, str):
        details["Modified_Time"] = once(when)
    who = details.get("Modified_By")
    if isinstance(who, dict):
        for key, value in who.items():
            if isinstance(value, str):
                who[key] = once(value)


def parse_job_id(body: Any, status: int) -> str:
    """Return the job id of a scheduled mass update, or raise the entry's error."""
    entry = entries(body, status)[0]
    details = _details(entry)
    if entry.get("code") != "SUCCESS" or not details.get("job_id"):
        raise entry_error(entry, status)
    return str(details["job_id"])


def parse_job_status(job_id: str, body: Any, status: int) -> JobStatus:
    """Return a mass update job's status and counts, or raise the entry's error."""
    entry = entries(body, status)[0]
    if "Status" not in entry:
        raise entry_error(entry, status)

    def count(key: str) -> int:
        return int(entry.get(key) or 0)

    return JobStatus(
        job_id=str(job_id),
        status=str(entry["Status"]).upper(),
        total_count=count("Total_Count"),
        updated_count=count("Updated_Count"),
        failed_count=count("Failed_Count"),
        not_updated_count=count("Not_Updated_Count"),
    )


def parse_records(body: Any, status: int) -> dict[str, dict[str, Any]]:
    """Return ``id -> record`` of a Get Records reply (empty for 204 / no data)."""
    if body is None or (isinstance(body, dict) and not body.get("data")):
        return {}
    return {str(r["id"]): r for r in entries(body, status) if r.get("id") is not None}


def parse_org(body: Any, status: int) -> dict[str, Any]:
    """Return the org object of a ``GET /org`` reply."""
    orgs = body.get("org") if isinstance(body, dict) else None
    if not isinstance(orgs, list) or not orgs or not isinstance(orgs[0], dict):
        raise ZohoRequestError("Zoho reply has no org[] entry", http_status=status)
    org: dict[str, Any] = orgs[0]
    return org


def parse_current_user(body: Any, status: int) -> str:
    """Return ``name <email>`` of the ``users?type=CurrentUser`` reply."""
    users = body.get("users") if isinstance(body, dict) else None
    if not isinstance(users, list) or not users or not isinstance(users[0], dict):
        raise ZohoRequestError("Zoho reply has no users[] entry", http_status=status)
    user = users[0]
    name = user.get("full_name") or user.get("name") or user.get("id") or "?"
    return f"{name} <{user['email']}>" if user.get("email") else str(name)
