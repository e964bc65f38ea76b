"""
Record reads under the credit floor: the reads before writing and the read-backs spend credits too.

:func:`reads_within` hands the runners an object with the hook's ``iter_records``/``get_records``
whose every request (100 ids) is admitted by a
:class:`~airflow_crm_provider.runs.credit_floor.CreditGuard` first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from airflow_crm_provider.runs.credit_floor import CreditGuard
from airflow_crm_provider.zoho.settings import MAX_GET_RECORD_IDS

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook


class RecordReads(Protocol):
    """What the runners read records with (the hook, or the hook under a credit floor)."""

    def iter_records(
        self, module: str, ids: Sequence[str], fields: Sequence[str]
    ) -> Iterator[tuple[list[str], dict[str, dict[str, Any]]]]:
        """Read records by id, yielding each request's ids and what it found."""
        ...

    def get_records(
        self, module: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Return ``id -> record`` for the ids that exist."""
        ...


class _FloorGuardedReads:
    """The hook's record reads, each request admitted by the credit floor."""

    def __init__(self, hook: ZohoCRMHook, floor: int) -> None:
        self._hook = hook
        self._guard = CreditGuard(hook.credits, floor)

    def iter_records(
        self, module: str, ids: Sequence[str], fields: Sequence[str]
    ) -> Iterator[tuple[list[str], dict[str, dict[str, Any]]]]:
        unique = list(dict.fromkeys(str(i) for i in ids))
        for start in range(0, len(unique), MAX_GET_RECORD_IDS):
            chunk = unique[start : start + MAX_GET_RECORD_IDS]
            yield chunk, self._guard.call(self._hook.get_records, module, chunk, fields)

    def get_records(
        self, module: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        for _, found in self.iter_records(module, ids, fields):
            records.update(found)
        return records


def reads_within(hook: ZohoCRMHook, floor: int | None) -> RecordReads:
    """
    Return the hook's record reads, each request refused (``ZohoCreditFloorError``) below ``floor``.

    :param hook: the run's hook.
    :param floor: ``min_credits_remaining`` (None: the hook itself).
    """
    return hook if floor is None else _FloorGuardedReads(hook, floor)
