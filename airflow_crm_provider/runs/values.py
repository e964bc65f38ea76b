"""
How field values compare: whether a record already holds what a write sets, and what it holds after.

One definition for the dry run, ``skip_unchanged``, reading back a lost reply, and the revert.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def holds(current: Any, new: Any, over_write: bool) -> bool:
    """
    Tell whether a field already holds what the write would set.

    Lists are multi-select picklists: with ``over_write`` the sets must match, else (append) every new
    value must already be there. A numeric field compares as numbers (``1000.0`` holds ``"1000"``), a
    text field compares as text; booleans equal booleans only.

    :param current: the record's value.
    :param new: the value the write sets.
    :param over_write: replace (``True``) or append to (``False``) multi-select values.
    """
    if isinstance(new, list):
        have = current if isinstance(current, list) else ([] if current is None else [current])
        have_keys = {_key(v) for v in have}
        new_keys = {_key(v) for v in new}
        return have_keys == new_keys if over_write else new_keys <= have_keys
    if isinstance(current, bool) or isinstance(new, bool):
        return type(current) is type(new) and current == new  # True is not 1
    if isinstance(current, (int, float)) and isinstance(new, (int, float, str)):
        # a numeric field: Zoho reads the new value as a number (1000.0 holds "1000", 1000)
        number = _number(current)
        return number is not None and number == _number(new)
    if isinstance(current, str) and isinstance(new, (int, float)):
        return current == str(new)  # a text field stores the number's text
    return bool(current == new)


def _number(value: float | str) -> Decimal | None:
    """Return a number (or numeric text) as an exact decimal, or ``None`` if it is not one."""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _key(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def after_write(prior: Any, new: Any, over_write: bool) -> Any:
    """
    Return what a field holds after a write set ``new`` on a record that held ``prior``.

    :param prior: the value before the write.
    :param new: the value the write set.
    :param over_write: replace (``True``) or append to (``False``) multi-select values.
    """
    if isinstance(new, list) and not over_write:
        have = prior if isinstance(prior, list) else ([] if prior is None else [prior])
        keys = {_key(v) for v in have}
        return [*have, *(v for v in new if _key(v) not in keys)]
    return new
