"""
The preflight: check what a run writes against the module's field metadata before the first write.

One metadata read per module and run (``settings/fields``). Field API names the module does not have,
fields the write cannot set (read-only, not updatable through the API, or, for a mass update, not
mass-updatable) and picklist values not in the field's list are refused with an
:class:`~airflow_crm_provider.runs.policy.InputError` that names the field and value and suggests the
closest names. :func:`check_fields` is pure, so every write (mass update, per-record rows) uses it.
"""

from __future__ import annotations

import difflib
import logging
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.runs.credit_floor import guarded
from airflow_crm_provider.runs.policy import InputError
from airflow_crm_provider.zoho.calls import FIELDS_SCOPE
from airflow_crm_provider.zoho.errors import ZohoAuthError, ZohoCRMError, ZohoRequestError, is_final

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
    from airflow_crm_provider.zoho.metadata import FieldMeta

log = logging.getLogger(__name__)

#: How many unknown values of one picklist a message names.
_SHOW = 5
#: How many picklist values a message lists when none is close to the given one.
_LIST = 10
#: ``difflib`` similarity below which a name is not offered as "did you mean".
_CUTOFF = 0.6
#: The argument that turns the preflight off.
OPTION = "preflight=False"


def closest(name: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """
    Return up to ``n`` candidates closest to ``name`` (a case-insensitive exact match first).

    :param name: what was given.
    :param candidates: the names that exist.
    :param n: how many to return.
    """
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.casefold(), candidate)
    folded = name.casefold()
    if folded in by_folded:
        return [by_folded[folded]]
    return [by_folded[m] for m in difflib.get_close_matches(folded, list(by_folded), n=n, cutoff=_CUTOFF)]


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    found = closest(name, candidates)
    return f": did you mean `{found[0]}`?" if found else ""


def _cannot_set(meta: FieldMeta, mass_update: bool) -> str | None:
    """Return why the write cannot set this field, as the metadata says, or None."""
    if meta.read_only:
        return "is read-only (a system field, or read-only for this connection's user)"
    if not meta.api_update:
        return "cannot be updated through the API"
    if mass_update and meta.mass_update is False:
        return f"cannot be set by a mass update (Zoho marks this {meta.data_type} field not mass-updatable)"
    return None


def _picklist_items(meta: FieldMeta, values: Iterable[Any]) -> Iterable[Any]:
    """Yield each value to look up in the list (the items of a multi-select's lists); None clears."""
    for value in values:
        if isinstance(value, (list, tuple)) and meta.data_type == "multiselectpicklist":
            yield from value
        elif value is not None:
            yield value


def _off_list(meta: FieldMeta, values: Iterable[Any]) -> list[Any]:
    """Return the distinct values not in the field's picklist, in input order (none without a list)."""
    if not meta.picklist:
        return []  # not a picklist, or Zoho sent no values for it: nothing to check against
    allowed = set(meta.picklist) | set(meta.picklist_labels)
    bad: list[Any] = []
    for value in _picklist_items(meta, values):
        if not (isinstance(value, str) and value in allowed) and value not in bad:
            bad.append(value)
    return bad


def _picklist_problem(name: str, meta: FieldMeta, bad: Sequence[Any]) -> str:
    parts = []
    for value in bad[:_SHOW]:
        found = closest(value, meta.picklist) if isinstance(value, str) else []
        hint = f" (did you mean {found[0]!r}?)" if found else ""
        parts.append(f"{value!r}{hint}")
    more = f" and {len(bad) - _SHOW} more" if len(bad) > _SHOW else ""
    listed = ""
    if not any("did you mean" in p for p in parts) and len(meta.picklist) <= _LIST:
        listed = f"; its values: {', '.join(repr(v) for v in meta.picklist)}"
    return f"picklist `{name}` has no value {', '.join(parts)}{more}{listed}"


def check_fields(
    module: str,
    fields: Mapping[str, FieldMeta],
    values: Mapping[str, Iterable[Any]],
    *,
    mass_update: bool = True,
) -> None:
    """
    Refuse field names, fields and picklist values the write cannot use, naming each (no HTTP).

    :param module: the module API name (for the message).
    :param fields: the module's field metadata, ``api_name -> FieldMeta``.
    :param values: field API name -> the values the run sets in it (every row's, for per-record writes).
    :param mass_update: the write is a mass update (fields Zoho marks not mass-updatable are refused).
    :raises InputError: naming every problem, with the closest names suggested.
    """
    problems: list[str] = []
    for name, given in values.items():
        meta = fields.get(name)
        if meta is None:
            problems.append(f"{module} has no field `{name}`{_did_you_mean(name, fields)}")
            continue
        why = _cannot_set(meta, mass_update)
        if why is not None:
            problems.append(f"field `{name}` {why}")
            continue
        bad = _off_list(meta, given)
        if bad:
            problems.append(_picklist_problem(name, meta, bad))
    if problems:
        checked = f"checked against Zoho's field metadata of {module}; {OPTION} skips this check"
        raise InputError(f"{'; '.join(problems)} ({checked})")


def _unknown_module(hook: ZohoCRMHook, module: str, floor: int | None) -> InputError:
    """Return the refusal of a module Zoho does not know, with the closest of the org's modules."""
    try:
        names = guarded(hook.get_modules, hook.credits, floor)()
    except ZohoCRMError as err:
        log.info("Could not read the org's modules to suggest one (%s)", err.describe())
        names = []
    return InputError(f"Zoho CRM has no module `{module}` in this org{_did_you_mean(module, names)}")


def preflight(
    hook: ZohoCRMHook,
    module: str,
    values: Mapping[str, Iterable[Any]],
    *,
    mass_update: bool = True,
    floor: int | None = None,
) -> None:
    """
    Read the module's field metadata once and check ``values`` against it, before any write.

    :param hook: the run's hook.
    :param module: module API name.
    :param values: field API name -> the values the run sets in it.
    :param mass_update: the write is a mass update (see :func:`check_fields`).
    :param floor: ``min_credits_remaining``: the read is not made below it.
    :raises InputError: a field, value or module the write cannot use.
    :raises ZohoCRMError: the read failed (see :func:`preflight_failure`).
    """
    try:
        fields = guarded(hook.get_fields, hook.credits, floor)(module)
    except ZohoRequestError as err:
        if err.code == "INVALID_MODULE":
            raise _unknown_module(hook, module, floor) from None
        raise
    check_fields(module, fields, values, mass_update=mass_update)
    log.info("Preflight: %s checked against the field metadata of %s", sorted(values), module)


def preflight_failure(err: BaseException) -> tuple[str, BaseException | None]:
    """
    Return why a run stops when the preflight's read failed, and the error to retry on, if any.

    :param err: what :func:`preflight` raised, other than an :class:`InputError`.
    """
    if isinstance(err, ZohoAuthError) and err.code == "OAUTH_SCOPE_MISMATCH":
        return (
            f"the preflight could not read the field metadata, nothing was written: the connection's "
            f"grant lacks the scope {FIELDS_SCOPE}; add it to the grant (a new refresh token), or set "
            f"{OPTION} to write without the check",
            None,
        )
    text = err.describe() if isinstance(err, ZohoCRMError) else f"{type(err).__name__}: {err}"
    reason = f"the preflight could not read the field metadata, nothing was written: {text}"
    return reason, None if is_final(err) else err
