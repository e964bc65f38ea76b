"""
Parsing and validation of ``rows``, the per-record values of Update Records and Upsert (no HTTP, no Airflow).

A row is a mapping ``{"id": ..., field API name: value, ...}``. Update needs the id; upsert takes rows
with or without one (Zoho finds the record by its duplicate-check fields). Field names and values pass
the same checks as a mass update's ``data`` (:mod:`airflow_crm_provider.runs.inputs`), so whatever is
accepted here is JSON Zoho can be sent. Every problem raises :class:`InputError` naming the rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# ``_EMPTY_TEXT``, ``_as_id``, ``_check_value``, ``_literal`` and ``_repr`` are private to inputs, imported
# here so the rules for ids, field values, literal text and messages stay in one place.
from airflow_crm_provider.runs.inputs import (
    _EMPTY_TEXT,
    InputError,
    _as_id,
    _check_value,
    _literal,
    _repr,
)
from airflow_crm_provider.zoho.settings import API_NAME_RE

#: The most rows one task takes (10,000 Update Records calls, 100,000 credits at 1 per 10 records).
MAX_ROWS = 1_000_000
#: The key of a row that holds its record id.
ID = "id"

RowsKind = Literal["update", "upsert"]
#: How many bad rows or repeated ids a message names.
_SHOW = 5


@dataclass(frozen=True, slots=True)
class Row:
    """
    One checked row.

    :param index: its position in the input (``records`` are reported in this order).
    :param id: its record id as a string of digits; ``None`` only for an upsert row without one.
    :param values: field API name -> value, without the id, in the input's order.
    """

    index: int
    id: str | None
    values: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """Return the row as Zoho's record body: the id (if any) first, then the values."""
        return {ID: self.id, **self.values} if self.id is not None else dict(self.values)


def _items(value: Any) -> list[Any]:
    """Turn the accepted forms of ``rows`` into a list of raw rows."""
    if value is None:
        return []
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError as err:
            raise InputError(
                f"rows is bytes that are not UTF-8 text ({err.reason} at byte {err.start})"
            ) from None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _EMPTY_TEXT:
            return []
        if text[0] not in "[(":
            raise InputError(
                f"rows must be a list of mappings like [{{'id': '...', 'Field': value}}], got {text[:80]!r}"
            )
        value = _literal(text, "rows")
    if isinstance(value, Mapping):
        raise InputError(
            "rows must be a list of mappings, one per record, got a single mapping: wrap it in a list"
        )
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InputError(f"rows must be a list of mappings, one per record, got {type(value).__name__}")
    items: list[Any] = []
    for item in value:
        items.append(item)
        if len(items) > MAX_ROWS:
            raise InputError(f"rows has more than {MAX_ROWS:,} rows; split the work across tasks")
    return items


def _row_id(raw: Any) -> str:
    """Return a row's id as a string of digits, or raise naming what it is."""
    if isinstance(raw, float):
        raise InputError(
            f"is a float ({raw!r}); record ids exceed 2^53 and lose digits as floats, give them as text"
        )
    record_id = _as_id(raw)
    if record_id is None:
        raise InputError(f"is not a numeric Zoho record id: {_repr(raw)}")
    return record_id


def _check_row(index: int, raw: Any, kind: RowsKind) -> Row:
    """Check one row; raise :class:`InputError` with a message that starts ``rows[index]``."""
    where = f"rows[{index}]"
    if not isinstance(raw, Mapping):
        raise InputError(f"{where} is {type(raw).__name__}, not a mapping of field API names to values")
    if not raw:
        raise InputError(f"{where} is empty: give the id and at least one field to set")
    record_id: str | None = None
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not API_NAME_RE.match(key):
            raise InputError(f"{where} has a key that is not a Zoho field API name: {_repr(key)}")
        if key == ID:
            try:
                record_id = _row_id(value)
            except InputError as err:
                raise InputError(f"{where}['id'] {err}") from None
            continue
        try:
            _check_value(key, value)
        except InputError as err:
            # _check_value names the value data[...]; here it is this row's
            text = str(err)
            raise InputError(where + text[4:] if text.startswith("data[") else f"{where}: {text}") from None
        values[key] = value
    if record_id is None and kind == "update":
        raise InputError(f"{where} has no 'id': Update Records needs the record id of every row")
    if not values:
        raise InputError(f"{where} has only an id: there is no field to set")
    return Row(index=index, id=record_id, values=values)


def check_rows(value: Any, *, kind: RowsKind = "update") -> list[Row]:
    """
    Check ``rows``: a list of mappings (or its JSON or Python-literal text, as Jinja renders it).

    Ids become strings of digits (an ``int`` is accepted; a ``float`` is refused, it has lost digits).
    Keys must be field API names and values JSON Zoho takes (finite numbers, text up to Zoho's
    length, a list or a lookup object one level deep). A row without fields, an update row without
    an id and an id given twice are refused. ``None`` or empty text is no rows.

    :param value: the rendered ``rows`` argument.
    :param kind: ``"update"`` (every row has an id) or ``"upsert"`` (ids optional).
    :raises InputError: naming the first few bad rows and what is wrong with each.
    """
    if kind not in ("update", "upsert"):
        raise ValueError(f"kind must be 'update' or 'upsert', got {kind!r}")
    items = _items(value)
    rows: list[Row] = []
    problems: list[str] = []
    bad = 0
    for index, raw in enumerate(items):
        try:
            rows.append(_check_row(index, raw, kind))
        except InputError as err:
            bad += 1
            if len(problems) < _SHOW:
                problems.append(str(err))
    if bad:
        more = f"; and {bad - len(problems)} more" if bad > len(problems) else ""
        raise InputError(f"{bad} of {len(items)} rows are not usable: " + "; ".join(problems) + more)
    _refuse_duplicates(rows)
    return rows


def _refuse_duplicates(rows: list[Row]) -> None:
    """Refuse rows that give the same id twice (two values for one record, or a repeated write)."""
    first: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}
    for row in rows:
        if row.id is None:
            continue
        seen = first.setdefault(row.id, row.index)
        if seen != row.index:
            repeated.setdefault(row.id, [seen]).append(row.index)
    if repeated:
        named = [f"{record_id} (rows {', '.join(map(str, at))})" for record_id, at in repeated.items()]
        shown = "; ".join(named[:_SHOW]) + (f"; and {len(named) - _SHOW} more" if len(named) > _SHOW else "")
        raise InputError(f"rows give the same record id twice, one row per record is taken: {shown}")


def requested_rows(value: Any) -> list[str]:
    """
    Return the ids ``rows`` asked for, even when it is not valid, for the ``records`` of a refused run.

    One entry per row in input order: its id as text, or ``""`` where the row has none that reads as
    text or a number.

    :param value: the rendered ``rows`` argument.
    """
    try:
        items = _items(value)
    except InputError:
        return []
    requested = []
    for raw in items:
        raw_id = raw.get(ID) if isinstance(raw, Mapping) else None
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
            requested.append("")
        else:
            requested.append(raw_id.strip() if isinstance(raw_id, str) else _repr(raw_id))
    return requested


def value_key(values: Mapping[str, Any]) -> str:
    """
    Return a canonical text of a row's values: rows with equal keys set the same JSON on a record.

    Field order does not matter; ``1``, ``1.0`` and ``True`` differ, as they do in the JSON sent.

    :param values: field API name -> value (checked).
    """
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def field_values(rows: Iterable[Row]) -> dict[str, list[Any]]:
    """Return every value the rows set, by field: what the preflight checks against the metadata."""
    found: dict[str, list[Any]] = {}
    for row in rows:
        for name, value in row.values.items():
            found.setdefault(name, []).append(value)
    return found
