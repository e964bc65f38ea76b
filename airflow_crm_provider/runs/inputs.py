"""
Parsing and validation of a write run's rendered inputs (no HTTP, no Airflow).

:func:`check_inputs` checks the module, the one ``data`` and the ids of an action that sets the
same values on every record; what every action shares is checked by
:func:`~airflow_crm_provider.runs.policy.check_policy`. Each check raises :class:`InputError` naming
the problem; the operator turns it into a refusal before any request is sent.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.runs.policy import InputError
from airflow_crm_provider.zoho.settings import API_NAME_RE, MAX_FIELDS_PER_CALL, module_name

if TYPE_CHECKING:
    from airflow_crm_provider.runs.ids_runner import IdsSettings
    from airflow_crm_provider.runs.outcomes import Thresholds
    from airflow_crm_provider.runs.policy import RunPolicy
    from airflow_crm_provider.zoho.errors import ErrorClass

#: The longest field value (Zoho's largest text area takes 32,000 characters).
MAX_TEXT = 32_000
#: The longest text ``ids`` or ``data`` may render to (a million ids fit).
MAX_INPUT_TEXT = 32_000_000
_RECORD_ID = re.compile(r"^[0-9]{1,32}\Z")
_SEPARATORS = re.compile(r"[\s,;]+")
_EMPTY_TEXT = frozenset({"", "none", "null", "[]"})
_SHOW = 5


@dataclass(frozen=True)
class ParsedIds:
    """
    Record ids in input order, duplicates removed.

    :param ids: unique ids as strings, first occurrence kept.
    :param duplicates: ids that appeared more than once (each listed once).
    """

    ids: list[str]
    duplicates: list[str]


def _show(items: Iterable[Any]) -> str:
    items = list(items)
    shown = ", ".join(_repr(i) for i in items[:_SHOW])
    return shown + (f" (and {len(items) - _SHOW} more)" if len(items) > _SHOW else "")


def _repr(item: Any) -> str:
    """``repr`` for messages, short for huge values (Python refuses ``str`` of ints past 4,300 digits)."""
    if isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 128:
        return f"<an integer of about {int(item.bit_length() * 0.30103)} digits>"
    text = repr(item)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _literal(text: str, what: str) -> Any:
    """Read JSON, or the Python literal text Jinja renders from an XCom (``['1', '2']``)."""
    if len(text) > MAX_INPUT_TEXT:
        raise InputError(f"{what} is {len(text)} characters of text; more than {MAX_INPUT_TEXT} is not taken")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as err:
        raise InputError(
            f"{what} looks like a list or mapping but is neither JSON nor a Python literal: {text[:80]!r}"
        ) from err


def _id_items(value: Any) -> list[Any]:
    """Flatten the accepted forms of ``ids`` into a list of raw items."""
    if value is None:
        return []
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError as err:
            raise InputError(
                f"ids is bytes that are not UTF-8 text ({err.reason} at byte {err.start})"
            ) from None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _EMPTY_TEXT:
            return []
        if text[0] in "[(":
            return _id_items(_literal(text, "ids"))
        return [part for part in _SEPARATORS.split(text) if part]
    if isinstance(value, (int, bool)):
        return [value]
    if isinstance(value, Mapping):
        raise InputError(f"ids must be a list of record ids, got a mapping: {_show(value)}")
    if isinstance(value, Iterable):
        return list(value)
    raise InputError(f"ids must be a list of record ids, got {type(value).__name__}")


def _as_id(item: Any) -> str | None:
    """Return the id as a string, or ``None`` if it is not a numeric record id."""
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        if not 0 <= item < 10**32:  # no str() of huge ints: Python refuses past 4,300 digits
            return None
        text = str(item)
    elif isinstance(item, str):
        text = item.strip()
    else:
        return None
    return text if _RECORD_ID.match(text) else None


def parse_ids(value: Any) -> ParsedIds:
    """
    Parse ``ids`` into unique numeric record ids as strings, in input order.

    Accepts a list/tuple (of str or int), a single id, ``None``, or a string holding a JSON list,
    the Python-style list text Jinja renders from an XCom, or comma/newline-separated ids.

    :param value: the rendered ``ids`` argument.
    :raises InputError: naming the first few items that are not numeric record ids.
    """
    items = _id_items(value)
    parsed: list[str] = []
    bad: list[Any] = []
    for item in items:
        record_id = _as_id(item)
        if record_id is None:
            bad.append(item)
        else:
            parsed.append(record_id)
    if bad:
        raise InputError(f"ids must be numeric Zoho record ids; {len(bad)} are not: {_show(bad)}")
    counts = Counter(parsed)
    return ParsedIds(ids=list(counts), duplicates=[i for i, n in counts.items() if n > 1])


def _is_text_or_int(item: Any) -> bool:
    return isinstance(item, (str, int)) and not isinstance(item, bool)


def requested_ids(value: Any) -> list[str]:
    """
    Return what ``ids`` asked for, even when it is not valid, for the ``records`` of a refused run.

    Valid ids come back as :func:`parse_ids` gives them; otherwise each text or number item is kept as
    text (unique, in input order), so every id the user asked for still gets a record.

    :param value: the rendered ``ids`` argument.
    """
    try:
        return parse_ids(value).ids
    except InputError:
        pass
    try:
        items = _id_items(value)
    except InputError:
        return []
    text = [_repr(i) if isinstance(i, int) else i.strip() for i in items if _is_text_or_int(i)]
    return list(dict.fromkeys(t for t in text if t))


def parse_data(value: Any) -> dict[str, Any]:
    """
    Check ``data``: a non-empty mapping of field API names to JSON-serialisable values.

    A string that renders to a JSON object (or Python dict text) is accepted.

    :param value: the rendered ``data`` argument.
    :raises InputError: naming what is wrong.
    """
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("{"):
            raise InputError(f"data must be a mapping of field API names to values, got text {text[:80]!r}")
        value = _literal(text, "data")
    if not isinstance(value, Mapping):
        raise InputError(f"data must be a mapping of field API names to values, got {type(value).__name__}")
    if not value:
        raise InputError(
            "data is empty: give one field API name and the value to set, e.g. {'Lead_Status': 'Contacted'}"
        )
    bad = [k for k in value if not isinstance(k, str) or not API_NAME_RE.match(k)]
    if bad:
        raise InputError(f"data keys must be Zoho field API names (letters, digits, _): {_show(bad)}")
    if len(value) > MAX_FIELDS_PER_CALL:
        raise InputError(
            f"data has {len(value)} fields; Zoho mass-updates at most {MAX_FIELDS_PER_CALL} "
            "fields per call (1 in most modules)"
        )
    for name, field_value in value.items():
        _check_value(name, field_value)
    return dict(value)


def _check_value(name: str, value: Any, depth: int = 0) -> None:
    """
    Refuse a field value Zoho cannot be sent: what JSON cannot carry exactly, or deeper than Zoho's shapes.

    Values are text, finite numbers, booleans or null; a multi-select takes a list of those, a lookup
    an object of those (``{"id": "..."}``), so nothing nests deeper than one level.
    """
    where = f"data[{name!r}]"
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) >= 10**32:
            raise InputError(f"{where} is an integer of more than 32 digits: not a Zoho number")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{where} is {value!r}: a field value must be a finite number (JSON has no NaN)")
        return
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise InputError(f"{where} is {len(value)} characters; Zoho fields take at most {MAX_TEXT}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise InputError(f"{where} holds text that is not valid Unicode ({err.reason})") from None
        return
    if depth == 0 and isinstance(value, (list, tuple)):
        for item in value:
            _check_value(name, item, depth + 1)
        return
    if depth == 0 and isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(f"{where} has a key that is not text: {key!r}")
            _check_value(f"{name}.{key}", item, depth + 1)
        return
    shape = "nested deeper than a list or a lookup object" if depth else f"of type {type(value).__name__}"
    raise InputError(f"{where} is {shape}: Zoho takes text, numbers, booleans, lists and lookups only")


def check_module(value: Any) -> str:
    """
    Check a module API name (``Leads``, ``Sales_Orders``...).

    :param value: the rendered ``module`` argument.
    :raises InputError: if it is not an API name.
    """
    return module_name(value, InputError)


@dataclass(frozen=True)
class CheckedInputs:
    """
    The rendered arguments of a run that sets one ``data`` on every id, validated.

    :param module: module API name.
    :param data: field API name -> value.
    :param ids: unique record ids in input order (ids mode).
    :param duplicates: ids given more than once.
    :param policy: the error policy, thresholds and how ids are sent.
    """

    module: str
    data: dict[str, Any]
    ids: list[str]
    duplicates: list[str]
    policy: RunPolicy

    @property
    def overrides(self) -> dict[str, ErrorClass]:
        """The user's per-code error classes."""
        return self.policy.overrides

    @property
    def thresholds(self) -> Thresholds:
        """The task-outcome thresholds."""
        return self.policy.thresholds

    @property
    def sending(self) -> IdsSettings:
        """How ids are sent."""
        return self.policy.sending


def check_inputs(*, module: Any, data: Any, ids: Any, policy: RunPolicy) -> CheckedInputs:
    """
    Validate the module, the one ``data`` and the ids of a run that sets ``data`` on every id.

    :param module: the rendered ``module``.
    :param data: the rendered ``data``.
    :param ids: the rendered ``ids``.
    :param policy: the run's checked policy (:func:`check_policy`).
    :raises InputError: naming the first argument that is not usable.
    """
    parsed = parse_ids(ids)
    return CheckedInputs(check_module(module), parse_data(data), parsed.ids, parsed.duplicates, policy)
