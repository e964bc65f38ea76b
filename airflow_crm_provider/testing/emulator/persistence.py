"""
Keeping the emulated org on disk, so that a restart of the emulator is an outage, not a new org.

Opt-in: ``--state-file PATH`` (or the ``ZOHO_CRM_EMULATOR_STATE_FILE`` variable). The file holds
the records, tokens, jobs, credits, settings, request log and counters; it is loaded at start and
written atomically (a temporary file renamed over it) before any reply leaves: a client that got an
answer can count on it surviving a crash, as with Zoho. Saves are grouped: requests answered while
one save runs share the next. Requests in flight, the random generator and the reset epoch start
anew. The file is a pickle the emulator writes for itself: load only files it wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import logging
import os
import pickle
import random
import tempfile
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_crm_provider.testing.emulator.state import EmulatorState

log = logging.getLogger(__name__)

#: Environment variable naming the state file when ``--state-file`` is not given.
STATE_FILE_VARIABLE = "ZOHO_CRM_EMULATOR_STATE_FILE"
#: Bumped whenever what is kept changes shape: an older file is refused, not misread.
FORMAT = 1
#: The parts of :class:`~.state.EmulatorState` that are kept.
KEPT = ("config", "store", "tokens", "jobs", "log", "counters", "refusals", "credits")
#: Admin paths whose GETs only read (no save needed before answering them).
_ADMIN = "/__emulator__/"
_START_OVER = "delete it to start a new org"


class StateFileError(RuntimeError):
    """The state file cannot be read as this emulator's (the message names it and says what to do)."""


class _Pickler(pickle.Pickler):
    """Pickles id counters by their next value (``itertools.count`` itself stops pickling in 3.14)."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is itertools.count:
            return itertools.count, (int(repr(obj)[len("count(") : -1]),)
        return NotImplemented


def dump(state: EmulatorState) -> bytes:
    """Return the kept parts of ``state`` as bytes (call on the event loop: a consistent copy)."""
    kept = {name: getattr(state, name) for name in KEPT}
    kept["log"] = list(state.log)
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump({"format": FORMAT, "state": kept})
    return buffer.getvalue()


def restore(state: EmulatorState, data: bytes, source: str = "the state file") -> None:
    """
    Put what :func:`dump` returned back into ``state``.

    :param state: the emulator state to overwrite.
    :param data: bytes from :func:`dump`.
    :param source: what ``data`` came from, for the error message.
    :raises StateFileError: when ``data`` is not a state this emulator wrote.
    """
    try:
        loaded = pickle.loads(data)  # noqa: S301 (a file the emulator wrote itself)
    except Exception as err:
        raise StateFileError(f"{source} is not an emulator state ({err}); {_START_OVER}") from None
    if not isinstance(loaded, dict):
        loaded = {}
    kept = loaded.get("state")
    if loaded.get("format") != FORMAT or not isinstance(kept, dict) or set(kept) != set(KEPT):
        raise StateFileError(f"{source} was written by another version of the emulator; {_START_OVER}")
    for name in KEPT:
        setattr(state, name, kept[name])
    state.log = deque(kept["log"], maxlen=state.config.log_limit)
    state.rng = random.Random(state.config.seed)
    state.in_flight = {}
    state.epoch += 1


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash once the directory is synced
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class PersistentState:
    """
    An ASGI wrapper of the emulator's app that keeps its state in ``path``: loaded now, saved on change.

    :param app: the emulator's app (its state in ``app.state.emulator``).
    :param path: the state file (created at the first change; its directory must exist).
    :raises StateFileError: when ``path`` exists but is not a state this emulator wrote.
    """

    def __init__(self, app: Any, path: str | Path) -> None:
        self.app: ASGIApp = app
        self.path = Path(path)
        self.state: EmulatorState = app.state.emulator
        self.loaded = self.path.exists()
        if self.loaded:
            restore(self.state, self.path.read_bytes(), str(self.path))
        self._changes = 0
        self._saved = 0
        self._lock: asyncio.Lock | None = None
        self._background: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request; save the state before its reply starts (or after, when it sent none)."""
        if scope["type"] != "http" or (scope["method"] == "GET" and scope["path"].startswith(_ADMIN)):
            await self.app(scope, receive, send)
            return
        answered = False

        async def send_saved(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                await self.commit()
            await send(message)

        try:
            await self.app(scope, receive, send_saved)
        finally:
            if not answered:  # a dropped connection or an error: save soon, nobody waits for it
                task = asyncio.ensure_future(self.commit())
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def commit(self) -> None:
        """Count one change and return once a save that includes it is on disk."""
        self._changes += 1
        wanted = self._changes
        if self._lock is None:
            self._lock = asyncio.Lock()
        while self._saved < wanted:
            async with self._lock:
                if self._saved >= wanted:
                    return
                covered = self._changes
                data = dump(self.state)
                try:
                    await asyncio.to_thread(write_atomically, self.path, data)
                except OSError as err:  # keep serving: the file is behind until a save succeeds
                    log.error("could not save the emulator state to %s: %s", self.path, err)
                    return
                self._saved = covered

    def save(self) -> None:
        """Save now, outside the event loop (at shutdown)."""
        write_atomically(self.path, dump(self.state))
