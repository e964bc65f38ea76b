"""
Request-level refusals seeded through the admin API: Zoho's documented codes, on demand.

A refusal names a code, the operation it applies to (``mass_update``, ``status``, ``update``,
``upsert``, ``read``, ``metadata`` or ``any``), optionally a module, and how many requests it refuses
(None: all). The first matching refusal answers the request after authentication, scopes and the
concurrency limit, as Zoho's handler would; row-level codes are record states instead (see
``RecordStore.seed``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator.faults import CONCURRENCY_MESSAGE
from airflow_crm_provider.testing.emulator.responses import (
    AUTH_HEADERS,
    METHOD_HEADERS,
    bare_error,
    request_error,
)

if TYPE_CHECKING:
    from starlette.responses import Response

    from airflow_crm_provider.testing.emulator.state import EmulatorState

#: Zoho's answer to a token without the endpoint's scope: (code, message, HTTP status).
SCOPE_MISMATCH = ("OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL", 401)

#: code -> (HTTP status, message, details). Messages are the OAS's or the docs' where they give one.
CATALOGUE: dict[str, tuple[int, str, dict[str, Any]]] = {
    "NO_PERMISSION": (403, "permission denied", {}),
    "AUTHORIZATION_FAILED": (400, "User does not have sufficient privilege to perform this action", {}),
    "CANNOT_PERFORM_ACTION": (400, "no permission to perform an action on this record", {}),
    "OAUTH_SCOPE_MISMATCH": (SCOPE_MISMATCH[2], SCOPE_MISMATCH[1], {}),
    "AUTHENTICATION_FAILURE": (401, "Authentication failed", {}),
    "INVALID_TOKEN": (401, "invalid oauth token", {}),
    "INVALID_OAUTHTOKEN": (401, "invalid oauth token", {}),
    "INVALID_URL_PATTERN": (404, "Please check if the URL trying to access is a correct one", {}),
    "INVALID_REQUEST_METHOD": (400, "The http request method type is not a valid one", {}),
    "INVALID_MODULE": (400, "The module name given seems to be invalid", {"resource_path_index": 0}),
    "INVALID_DATA": (400, "invalid data", {}),
    "MANDATORY_NOT_FOUND": (400, "required field not found", {}),
    "LIMIT_EXCEEDED": (400, "Record count exceeded", {"limit": 50_000}),
    "NO_RECORDS_FOUND": (400, "no record found to update", {}),
    "ALREADY_SCHEDULED": (202, "Already a Mass Action scheduler is running for the given cvid", {}),
    "FEATURE_NOT_SUPPORTED": (403, "Scheduled Mass Operation feature is not available in your edition", {}),
    "INTERNAL_ERROR": (500, "Internal server error occurred.", {}),
    # the transient (concurrency) 429; the credit 429 comes from the ``credit_budget`` setting
    "TOO_MANY_REQUESTS": (429, CONCURRENCY_MESSAGE, {}),
}
#: Codes a gateway answers as a bare object whatever ``error_shape`` says (auth, URL, method, 5xx, 429).
ALWAYS_BARE = frozenset(
    {
        "NO_PERMISSION",
        "OAUTH_SCOPE_MISMATCH",
        "AUTHENTICATION_FAILURE",
        "INVALID_TOKEN",
        "INVALID_OAUTHTOKEN",
        "INVALID_URL_PATTERN",
        "INVALID_REQUEST_METHOD",
        "INTERNAL_ERROR",
        "TOO_MANY_REQUESTS",
        "FEATURE_NOT_SUPPORTED",
    }
)
_AUTH = frozenset({"OAUTH_SCOPE_MISMATCH", "AUTHENTICATION_FAILURE", "INVALID_TOKEN", "INVALID_OAUTHTOKEN"})
OPERATIONS = ("mass_update", "status", "update", "upsert", "read", "metadata", "any")


def make(code: Any, operation: Any = "mass_update", module: Any = None, times: Any = None) -> dict[str, Any]:
    """
    Check and build one refusal.

    :param code: a code of :data:`CATALOGUE`.
    :param operation: one of :data:`OPERATIONS`.
    :param module: refuse only requests to this module (None: any module).
    :param times: requests to refuse before the refusal is used up (None: every one).
    :raises ValueError: naming the bad argument.
    """
    if code not in CATALOGUE:
        raise ValueError(f"code must be one of {sorted(CATALOGUE)}, got {code!r}")
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {list(OPERATIONS)}, got {operation!r}")
    if module is not None and (not isinstance(module, str) or not module):
        raise ValueError(f"module must be a module api name or null, got {module!r}")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise ValueError(f"times must be an integer >= 1 or null, got {times!r}")
    return {"code": code, "operation": operation, "module": module, "times": times}


def _operation(kind: str, method: str) -> str:
    if kind == "mass_update":
        return "mass_update" if method == "POST" else "status"
    if kind == "upsert":
        return "upsert"
    if kind in ("records", "record"):
        return "update" if method == "PUT" else "read"
    return "metadata"


def answer(state: EmulatorState, kind: str, module: str, method: str) -> Response | None:
    """
    Return the answer of the first seeded refusal matching this request (using it up), or None.

    :param state: the emulator state.
    :param kind: the route kind (``mass_update``, ``records``, ...).
    :param module: the module of the route ("" for metadata routes).
    :param method: the HTTP method.
    """
    operation = _operation(kind, method)
    for refusal in state.refusals:
        if refusal["operation"] not in ("any", operation):
            continue
        if refusal["module"] is not None and refusal["module"] != module:
            continue
        if refusal["times"] is not None:
            refusal["times"] -= 1
            if refusal["times"] == 0:
                state.refusals.remove(refusal)
        state.counters.refusals_answered += 1
        return _response(state, refusal["code"], operation)
    return None


def _response(state: EmulatorState, code: str, operation: str) -> Response:
    status, message, details = CATALOGUE[code]
    if operation == "mass_update" and code not in ALWAYS_BARE:
        seed_status = status if status == 202 else 200
        return request_error(
            state.config.error_shape, code, message, details, status=status, seed_status=seed_status
        )
    headers = AUTH_HEADERS if code in _AUTH else METHOD_HEADERS if code == "INVALID_REQUEST_METHOD" else None
    return bare_error(code, message, status, details, headers=headers)
