"""
Crash safety for ids mode: results of applied chunks kept in Airflow 3.3's ``task_state_store``.

Retries of a task instance share its ``task_state_store`` rows, so a retry after a crash or a
transient failure reads back what earlier tries applied and sends only the rest. A chunk is known by
the round it was sent in and a digest of its ids, under a key that also covers module, data and
``over_write``: if any of those render differently on the retry, nothing is reused. Keys are
deleted once the run reaches a final outcome, so clearing a finished task re-sends everything.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from airflow_crm_provider._compat import AIRFLOW_V_3_3_PLUS
from airflow_crm_provider.results import SUCCESS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

    from airflow_crm_provider.replies import ZohoEntry

log = logging.getLogger(__name__)

KEY_PREFIX = "zoho_crm.mass_update"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


class ChunkLedger:
    """
    Per-chunk results kept across tries of one task instance (a no-op without a store).

    :param store: the task's ``task_state_store`` accessor, or ``None`` to disable.
    :param run_key: digest of what the run writes (module, data, ``over_write``).
    """

    def __init__(self, store: Any | None, run_key: str) -> None:
        self._store = store
        self._run_key = run_key
        self._keys: set[str] = set()

    @classmethod
    def from_context(
        cls, context: Context, module: str, data: Mapping[str, Any], over_write: bool
    ) -> ChunkLedger:
        """
        Return the ledger of this task instance, logging whether a retry can resume.

        :param context: the task context (``task_state_store`` exists on Airflow 3.3+).
        :param module: Zoho module API name.
        :param data: the field values sent.
        :param over_write: the ``over_write`` flag sent.
        """
        run_key = _digest(module, json.dumps(data, sort_keys=True, default=str), str(bool(over_write)))
        store = context.get("task_state_store")
        if store is None:
            if AIRFLOW_V_3_3_PLUS:
                log.warning("task_state_store is not in the context: a retry of this task re-sends every id")
            else:
                log.warning("Airflow < 3.3 has no task_state_store: a retry of this task re-sends every id")
        return cls(store, run_key)

    @property
    def enabled(self) -> bool:
        """Whether results are kept for a retry."""
        return self._store is not None

    def _key(self, round_no: int, ids: Sequence[str]) -> str:
        return f"{KEY_PREFIX}.{self._run_key}.r{round_no}.{_digest(*ids)}"

    def _disable(self, action: str, err: Exception) -> None:
        log.warning("task_state_store %s failed (%s); a retry of this task re-sends every id", action, err)
        self._store = None

    def get(self, round_no: int, ids: Sequence[str]) -> list[ZohoEntry] | None:
        """
        Return the entries of this chunk if an earlier try applied it, else ``None``.

        :param round_no: 0 for the first pass, n for the n-th re-send of retry-class records.
        :param ids: the chunk's ids, in order.
        """
        if self._store is None:
            return None
        key = self._key(round_no, ids)
        try:
            stored = self._store.get(key)
        except Exception as err:  # the store is a convenience: never lose the run over it
            self._disable("read", err)
            return None
        if not isinstance(stored, dict) or not isinstance(stored.get("entries"), list):
            return None
        self._keys.add(key)
        try:
            entries = [_unpack(row) for row in stored["entries"]]
        except (TypeError, ValueError):
            entries = []
        if [e["id"] for e in entries] != list(ids):  # not this chunk's results: send it instead
            log.warning("task_state_store key %s does not hold this chunk's results; ignoring it", key)
            return None
        return entries

    def put(self, round_no: int, ids: Sequence[str], entries: Sequence[ZohoEntry]) -> None:
        """
        Keep the entries of an applied chunk for a retry.

        :param round_no: the round the chunk was sent in.
        :param ids: the chunk's ids, in order.
        :param entries: one entry per id.
        """
        if self._store is None:
            return
        key = self._key(round_no, ids)
        try:
            self._store.set(key, {"entries": [_pack(e) for e in entries]})
        except Exception as err:
            self._disable("write", err)
            return
        self._keys.add(key)

    def clear(self) -> None:
        """Delete the keys this run read or wrote (the run reached a final outcome)."""
        if self._store is None:
            return
        for key in sorted(self._keys):
            try:
                self._store.delete(key)
            except Exception as err:
                log.warning("Could not delete task_state_store key %s: %s", key, err)
        self._keys.clear()


def _pack(entry: ZohoEntry) -> list[Any]:
    """Store an entry compactly (a success keeps no details: they are timestamps and the user)."""
    details = {} if entry["code"] == SUCCESS else entry["details"]
    return [entry["id"], entry["status"], entry["code"], entry["message"], details]


def _unpack(row: list[Any]) -> ZohoEntry:
    record_id, status, code, message, details = row
    if code == SUCCESS:
        details = {"id": record_id}
        message = f"{message} (in an earlier try)"
    return {"id": record_id, "status": status, "code": code, "message": message, "details": details}
