"""Zoho-shaped HTTP answers: the recorded header sets, JSON bodies and error objects."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

JSON_TYPE = "application/json;charset=utf-8"

#: Headers of a normal CRM answer, as in the seed's recorded responses.
CRM_HEADERS: dict[str, str] = {
    "Server": "ZGS",
    "Content-Type": JSON_TYPE,
    "Connection": "keep-alive",
    "Referrer-Policy": "strict-origin",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
    "Pragma": "no-cache",
    "Cache-Control": "no-store, no-cache, must-revalidate, private",
    "Expires": "Thu, 01 Jan 1970 00:00:00 GMT",
    "X-Frame-Options": "SAMEORIGIN",
    "clientVersion": "4027076",
    "clientsubVersion": "748ecbe82ec7e144b66ee25f264bbd88",
    "Content-Disposition": "attachment; filename=response.json",
    "Content-Language": "en-US",
    "Strict-Transport-Security": "max-age=15768000",
}
#: Headers of the gateway's INVALID_REQUEST_METHOD answer (recorded without the CRM set).
METHOD_HEADERS: dict[str, str] = {
    "Server": "ZGS",
    "Content-Type": JSON_TYPE,
    "Connection": "keep-alive",
    "X-Frame-Options": "deny",
    "X-Download-Options": "noopen",
    "X-Content-Type-Options": "nosniff",
}
#: Headers of the AUTHENTICATION_FAILURE / INVALID_TOKEN answers.
AUTH_HEADERS: dict[str, str] = {
    "Server": "ZGS",
    "Content-Type": JSON_TYPE,
    "Connection": "keep-alive",
    "Referrer-Policy": "strict-origin",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
    "Pragma": "no-cache",
    "Cache-Control": "no-cache",
    "Expires": "Thu, 01 Jan 1970 00:00:00 GMT",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Download-Options": "noopen",
}


def zoho_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """
    Return a JSON answer with Zoho's ``Content-Type`` and header set.

    :param body: JSON-ready body.
    :param status: HTTP status.
    :param headers: header set (default: :data:`CRM_HEADERS`).
    """
    return Response(json.dumps(body), status_code=status, headers=headers or CRM_HEADERS)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return Zoho's error object ``{code, details, message, status: "error"}`` in Zoho's key order."""
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


def bare_error(
    code: str,
    message: str,
    status: int,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Return an error object as the whole body (not inside ``data``)."""
    return zoho_json(error_body(code, message, details), status, headers)


def request_error(
    shape: str,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    status: int = 400,
    seed_status: int = 200,
) -> Response:
    """
    Return a request-level mass update error in the configured shape.

    :param shape: ``"seed"`` (one ``data[]`` entry, ``seed_status``) or ``"documented"`` (bare, ``status``).
    :param code: Zoho's code.
    :param message: Zoho's message.
    :param details: Zoho's details.
    :param status: HTTP status of the documented shape.
    :param seed_status: HTTP status of the seed's shape.
    """
    if shape == "seed":
        return zoho_json({"data": [error_body(code, message, details)]}, seed_status)
    return bare_error(code, message, status, details)


def no_content() -> Response:
    """Return HTTP 204 without a body, as Zoho answers a read that found nothing."""
    return Response(status_code=204, headers={k: v for k, v in CRM_HEADERS.items() if k != "Content-Type"})
