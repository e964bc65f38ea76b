"""
Update Records and Upsert: a value per record, at most 100 records a call.

Paths, bodies and reply parsing of ``PUT /crm/{v}/{module}``, ``PUT .../{module}/{id}`` and
``POST .../{module}/upsert``. Zoho answers one ``data[]`` entry per record, in input order: 200 when
all succeeded, 207 or 200 when some failed (which one is not documented: both are read alike), 400
(412 for ``ALREADY_MODIFIED``) when all failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.zoho.api import ZohoEntry, entries, entry_error
from airflow_crm_provider.zoho.errors import ZohoRequestError
from airflow_crm_provider.zoho.settings import API_NAME_RE, MAX_RECORDS_PER_WRITE

if TYPE_CHECKING:
    from collections.abc import Sequence


class UpsertEntry(ZohoEntry):
    """An Upsert Records entry: ``action`` ``insert`` or ``update`` and the field a match was made on."""

    action: str | None
    duplicate_field: str | None


#: The automation a ``trigger`` array may name (Zoho runs all of it when ``trigger`` is absent).
TRIGGERS = ("workflow", "approval", "blueprint", "pathfinder", "orchestration")


def update_records_path(module: str, record_id: str | None = None) -> str:
    """
    Return the path of Update Records (``{module}``) or of Update a Record (``{module}/{id}``).

    :param module: a checked module API name.
    :param record_id: the one record's id, for Update a Record.
    """
    return module if record_id is None else f"{module}/{record_id}"


def upsert_path(module: str) -> str:
    """Return the path of Upsert Records for a checked module API name."""
    return f"{module}/upsert"


def record_writes_body(
    rows: list[dict[str, Any]],
    trigger: list[str] | None = None,
    duplicate_check_fields: list[str] | None = None,
) -> dict[str, Any]:
    """
    Return the body of Update Records or Upsert: ``data``, and ``trigger`` only when given.

    Without ``trigger`` Zoho runs all automation (workflow, approval, blueprint...); ``[]`` runs none.

    :param rows: the records, each ``{"id": ..., field: value}`` (an upsert row may have no ``id``).
    :param trigger: automation to run, from :data:`TRIGGERS` (None: Zoho's default, all of it).
    :param duplicate_check_fields: for an upsert, the fields to match existing records on, in order.
    """
    body: dict[str, Any] = {"data": rows}
    if trigger is not None:
        body["trigger"] = list(trigger)
    if duplicate_check_fields is not None:
        body["duplicate_check_fields"] = list(duplicate_check_fields)
    return body


def update_request(
    rows: Sequence[Mapping[str, Any]], trigger: Sequence[str] | None
) -> tuple[dict[str, Any], list[str | None]]:
    """
    Check an Update Records call and return ``(body, each row's id)``.

    :param rows: ``{"id": record_id, field_api_name: value, ...}`` per record.
    :param trigger: automation to run (None: send none, Zoho runs all).
    :raises ValueError: naming the first bad row or the bad trigger entries.
    """
    data, sent_ids = _write_rows(rows, need_id=True)
    return record_writes_body(data, check_trigger(trigger)), sent_ids


def upsert_request(
    rows: Sequence[Mapping[str, Any]], duplicate_check_fields: Sequence[str], trigger: Sequence[str] | None
) -> tuple[dict[str, Any], list[str | None], bool]:
    """
    Check an Upsert call and return ``(body, each row's id or None, whether a re-send is safe)``.

    A re-send is safe when every row has an ``id`` or a duplicate check value: it then updates what
    the first send inserted instead of inserting it again.

    :param rows: ``{field_api_name: value, ...}`` per record, optionally with ``id``.
    :param duplicate_check_fields: the fields to match on, in order.
    :param trigger: automation to run (None: send none, Zoho runs all).
    :raises ValueError: naming the first bad row, field or trigger entry.
    """
    if isinstance(duplicate_check_fields, str) or not duplicate_check_fields:
        raise ValueError("duplicate_check_fields must be a non-empty list of field API names")
    fields = [str(f) for f in duplicate_check_fields]
    bad = [f for f in fields if not API_NAME_RE.match(f)]
    if bad:
        raise ValueError(f"duplicate_check_fields has names that are not field API names: {bad}")
    data, sent_ids = _write_rows(rows, need_id=False)
    resendable = all(
        i is not None or any(row.get(f) not in (None, "") for f in fields)
        for row, i in zip(data, sent_ids, strict=True)
    )
    return record_writes_body(data, check_trigger(trigger), fields), sent_ids, resendable


def _write_rows(
    rows: Sequence[Mapping[str, Any]], *, need_id: bool
) -> tuple[list[dict[str, Any]], list[str | None]]:
    """
    Check the rows of an Update Records or Upsert call: ``(rows to send, each row's id or None)``.

    :param rows: one mapping per record.
    :param need_id: every row must name its record (Update Records).
    :raises ValueError: naming the first bad row.
    """
    if isinstance(rows, (str, bytes, Mapping)) or not rows:
        raise ValueError("rows must be a non-empty list of {field_api_name: value} mappings")
    limit = MAX_RECORDS_PER_WRITE
    if len(rows) > limit:
        raise ValueError(f"Zoho takes at most {limit} records per call, got {len(rows)}")
    data: list[dict[str, Any]] = []
    sent_ids: list[str | None] = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValueError(
                f"rows[{index}] must be a mapping of field API names to values, got {type(row).__name__}"
            )
        record_id = row.get("id")
        if record_id is None and need_id:
            raise ValueError(f"rows[{index}] has no id: Update Records needs each record's id")
        if record_id is not None and (isinstance(record_id, bool) or not str(record_id).strip().isdigit()):
            raise ValueError(f"rows[{index}] has id {record_id!r}, which is not a Zoho record id (digits)")
        fields = [
            k
            for k in row
            if k != "id" and not (isinstance(k, str) and (k.startswith("$") or API_NAME_RE.match(k)))
        ]
        if fields:
            raise ValueError(f"rows[{index}] has keys that are not field API names: {fields!r}")
        sent = None if record_id is None else str(record_id).strip()
        data.append({**row, "id": sent} if sent is not None else dict(row))
        sent_ids.append(sent)
    return data, sent_ids


def check_trigger(trigger: Sequence[str] | None) -> list[str] | None:
    """Return the ``trigger`` to send (None: none sent), or raise naming the unknown entries."""
    if trigger is None:
        return None
    if isinstance(trigger, str):
        raise ValueError(f"trigger must be a list of automation names, not a string: {trigger!r}")
    unknown = [t for t in trigger if t not in TRIGGERS]
    if unknown:
        raise ValueError(f"trigger has unknown entries {unknown}; known: {list(TRIGGERS)}")
    return list(trigger)


def _record_entry(entry: dict[str, Any], sent_id: str | None) -> ZohoEntry:
    found = entry.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    record_id = details.get("id")
    return ZohoEntry(
        id=str(record_id) if record_id not in (None, "") else sent_id,
        status=str(entry.get("status") or ""),
        code=str(entry.get("code") or ""),
        message=str(entry.get("message") or ""),
        details=details,
    )


def _aligned(sent_ids: list[str | None], body: Any, status: int) -> list[dict[str, Any]]:
    """Return the reply's entries, one per record sent, or raise the request-level error."""
    found = entries(body, status)
    if len(found) != len(sent_ids):
        if len(found) == 1 and found[0].get("status") != "success":
            raise entry_error(found[0], status)
        raise ZohoRequestError(
            f"Zoho answered {len(found)} data[] entries for {len(sent_ids)} records", http_status=status
        )
    return found


def parse_update_records(sent_ids: list[str | None], body: Any, status: int) -> list[ZohoEntry]:
    """
    Return one :class:`ZohoEntry` per record sent, in input order (200, 207, or 400 if all failed).

    An entry's ``id`` is ``details.id``, else the id sent at its position.

    :param sent_ids: the ``id`` of each row sent (None where a row had none).
    :raises ZohoCRMError: when the entries are not one per record: a request-level error.
    """
    return [_record_entry(e, i) for e, i in zip(_aligned(sent_ids, body, status), sent_ids, strict=True)]


def parse_upsert(sent_ids: list[str | None], body: Any, status: int) -> list[UpsertEntry]:
    """
    Return one :class:`UpsertEntry` per record sent, in input order.

    An entry's ``id`` is the record Zoho inserted or updated (``details.id``), else the id sent.

    :param sent_ids: the ``id`` of each row sent (None for rows to insert or match).
    :raises ZohoCRMError: when the entries are not one per record: a request-level error.
    """
    result: list[UpsertEntry] = []
    for entry, sent_id in zip(_aligned(sent_ids, body, status), sent_ids, strict=True):
        action, field = entry.get("action"), entry.get("duplicate_field")
        result.append(
            UpsertEntry(
                **_record_entry(entry, sent_id),
                action=str(action) if action else None,
                duplicate_field=str(field) if field else None,
            )
        )
    return result
