"""
Crash safety: what a task instance keeps across its tries in Airflow 3.3's ``task_state_store``.

Retries of a task instance share its ``task_state_store`` rows, so a retry after a crash or a
transient failure reads back what earlier tries did: the replies of the chunks they sent (ids mode)
and the job they scheduled (job mode). Everything is keyed by a :func:`fingerprint` of what the run
writes (module, data, ``over_write``, target): if any of it renders differently on the retry,
nothing is reused. :class:`TaskState` is the one wrapper over the store; the store is a convenience,
so a failing store is logged and switched off, never allowed to lose the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.runs.outcomes import SUCCESS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_crm_provider.zoho.api import ZohoEntry

log = logging.getLogger(__name__)

KEY_PREFIX = "zoho_crm.mass_update"
#: Key of the job this task instance scheduled (job mode).
JOB_KEY = f"{KEY_PREFIX}.job"


def fingerprint(*parts: Any) -> str:
    """
    Return a short digest of ``parts`` (JSON, keys sorted): the identity of what a run writes.

    :param parts: JSON-able values (module, data, flags, ids...).
    """
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class TaskState:
    """
    The task instance's ``task_state_store``, fail-soft, remembering the keys this try used.

    :param store: the store from the task context, or ``None`` (Airflow < 3.3): every call is a no-op.
    """

    def __init__(self, store: Any | None) -> None:
        self._store = store
        self._keys: set[str] = set()

    @property
    def enabled(self) -> bool:
        """Whether what this try records survives into a retry."""
        return self._store is not None

    def _failed(self, action: str, key: str, err: Exception) -> None:
        log.warning(
            "task_state_store %s of %s failed (%s); a retry of this task cannot resume from it",
            action,
            key,
            err,
        )
        self._store = None

    def get(self, key: str) -> Any | None:
        """Return the value an earlier try stored under ``key``, or ``None``."""
        if self._store is None:
            return None
        try:
            value = self._store.get(key)
        except Exception as err:  # never lose the run over the store
            self._failed("read", key, err)
            return None
        if value is not None:
            self._keys.add(key)
        return value

    def set(self, key: str, value: Any) -> bool:
        """Store ``value`` under ``key``; return whether it was kept."""
        if self._store is None:
            return False
        try:
            self._store.set(key, value)
        except Exception as err:
            self._failed("write", key, err)
            return False
        self._keys.add(key)
        return True

    def own(self, key: str) -> None:
        """Count ``key`` as this run's, so :meth:`clear` deletes it."""
        self._keys.add(key)

    def clear(self) -> None:
        """Delete every key this run owns: its outcome is final and recorded."""
        if self._store is None:
            return
        for key in sorted(self._keys):
            try:
                self._store.delete(key)
            except Exception as err:
                log.warning("Could not delete task_state_store key %s: %s", key, err)
        self._keys.clear()


class ChunkLedger:
    """
    Replies of the chunks earlier tries sent (ids mode), known by round and a digest of their ids.

    :param state: the task's state.
    :param run_key: :func:`fingerprint` of what the run writes (module, data, ``over_write``).
    :param content: a chunk's ids -> what its call writes beyond the run key (a plan's calls carry a
        kind and values of their own), so a chunk's key covers the call's content, not only its ids.
    """

    def __init__(
        self, state: TaskState, run_key: str, content: Callable[[Sequence[str]], Any] | None = None
    ) -> None:
        self._state = state
        self._run_key = run_key
        self._content = content

    @property
    def enabled(self) -> bool:
        """Whether results are kept for a retry."""
        return self._state.enabled

    def _key(self, round_no: int, ids: Sequence[str]) -> str:
        chunk = fingerprint(*ids) if self._content is None else fingerprint(list(ids), self._content(ids))
        return f"{KEY_PREFIX}.{self._run_key}.r{round_no}.{chunk}"

    def get(self, round_no: int, ids: Sequence[str]) -> list[ZohoEntry] | None:
        """
        Return the entries of this chunk if an earlier try got Zoho's reply for it, else ``None``.

        :param round_no: 0 for the first pass, n for the n-th re-send of retry-class records.
        :param ids: the chunk's ids, in order.
        """
        key = self._key(round_no, ids)
        stored = self._state.get(key)
        if not isinstance(stored, dict) or not isinstance(stored.get("entries"), list):
            return None
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
        Keep the entries of a chunk whose reply was received.

        :param round_no: the round the chunk was sent in.
        :param ids: the chunk's ids, in order.
        :param entries: one entry per id.
        """
        if self._state.enabled:  # else there is nowhere to keep them: spare the digest and the packing
            self._state.set(self._key(round_no, ids), {"entries": [_pack(e) for e in entries]})


class PriorLedger:
    """
    Target-field values read before a run wrote (``skip_unchanged``, ``snapshot``, revert), by piece.

    Kept before the first write, so a retry reuses the first try's reading: the values from before
    the run, not what the run itself wrote.

    :param state: the task's state.
    :param run_key: :func:`fingerprint` of what the run writes.
    """

    def __init__(self, state: TaskState, run_key: str) -> None:
        self._state = state
        self._run_key = run_key

    def _key(self, ids: Sequence[str]) -> str:
        return f"{KEY_PREFIX}.{self._run_key}.prior.{fingerprint(*ids)}"

    def get(self, ids: Sequence[str]) -> dict[str, dict[str, Any] | None] | None:
        """
        Return ``{id: fields or None (not found)}`` for this piece if an earlier try read it, else ``None``.

        :param ids: the piece's ids, in order.
        """
        stored = self._state.get(self._key(ids))
        if not isinstance(stored, dict) or stored.get("ids") != list(ids):
            return None
        values = stored.get("values")
        if not isinstance(values, list) or len(values) != len(ids):
            return None
        if not all(v is None or isinstance(v, dict) for v in values):
            return None
        return dict(zip(ids, values, strict=True))

    def put(self, ids: Sequence[str], found: dict[str, dict[str, Any] | None]) -> bool:
        """
        Keep what reading this piece found; return whether it survives into a retry.

        :param ids: the piece's ids, in order.
        :param found: id -> the record's target fields, or ``None`` if Zoho has no such record.
        """
        return self._state.set(self._key(ids), {"ids": list(ids), "values": [found.get(i) for i in ids]})


class JobTracker:
    """
    The job id an earlier try scheduled (job mode), for the same target only.

    :param state: the task's state.
    :param target: :func:`fingerprint` of what the job writes (module, data, view, ``over_write``).
    """

    def __init__(self, state: TaskState, target: str) -> None:
        self._state = state
        self._target = target
        state.own(JOB_KEY)

    @property
    def enabled(self) -> bool:
        """Whether the job id survives into a retry."""
        return self._state.enabled

    def load(self) -> str | None:
        """Return the job id an earlier try scheduled for the same target, if any."""
        stored = self._state.get(JOB_KEY)
        if not isinstance(stored, dict) or not stored.get("job_id"):
            return None
        if stored.get("target") != self._target:
            log.warning(
                "An earlier try scheduled job %s for a different module, view or data; scheduling a new job",
                stored["job_id"],
            )
            return None
        return str(stored["job_id"])

    def save(self, job_id: str) -> None:
        """Keep the job id for a retry."""
        if not self._state.set(JOB_KEY, {"job_id": job_id, "target": self._target}):
            log.warning("Job %s is not kept for a retry: a retry of this task schedules a new job", job_id)

    def posted_before(self) -> bool:
        """Tell whether an earlier try sent the job's POST for this target and got no job id back."""
        stored = self._state.get(JOB_KEY)
        return (
            isinstance(stored, dict)
            and stored.get("posting") is True
            and stored.get("target") == self._target
        )

    def mark_posting(self, posting: bool = True) -> None:
        """
        Keep, before the job's POST, that it may be sent (``False`` once Zoho surely scheduled nothing).

        :param posting: whether a POST may have reached Zoho with no job id kept.
        """
        self._state.set(JOB_KEY, {"posting": posting, "target": self._target})


#: What a success's details keep: an upsert's record id (when not the entry's key) and its action.
_KEPT_ON_SUCCESS = ("id", "action")


def _pack(entry: ZohoEntry) -> list[Any]:
    """Store an entry compactly (a success keeps no timestamps nor user: only an upsert's id and action)."""
    details = entry["details"]
    if entry["code"] == SUCCESS:
        details = {k: details[k] for k in _KEPT_ON_SUCCESS if k in details and details[k] != entry["id"]}
    return [entry["id"], entry["status"], entry["code"], entry["message"], details]


def _unpack(row: list[Any]) -> ZohoEntry:
    record_id, status, code, message, details = row
    if code == SUCCESS:
        details = {"id": record_id, **details}
        message = f"{message} (in an earlier try)"
    return {"id": record_id, "status": status, "code": code, "message": message, "details": details}
