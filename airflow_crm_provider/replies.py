"""Typed shapes of Zoho replies that the hook returns (shared by the sync and async clients)."""

from __future__ import annotations

from typing import Any, TypedDict


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
