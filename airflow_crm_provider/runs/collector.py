"""
The cyclic garbage collector held off while a run decodes replies and builds records.

A full collection walks every object the process holds (Airflow's own, some 170,000, included); a
large run that decodes replies and builds records triggers several, which made up about half of its
CPU. Nothing built then forms a cycle, so reference counting frees it all the same.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


class _CollectorPause:
    """
    Holders of a pause of the cyclic garbage collector: calls nest, and may come from several threads.

    A full collection walks every object the process holds (Airflow's own, some 170,000, included);
    a large run that decodes replies and builds records triggers several, which made up about half
    of its CPU. Nothing built then forms a cycle, so reference counting frees it all the same. The
    first holder in turns the collector off if it was on; the last one out turns it back on,
    whatever happened in between.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if not self._holders:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if not self._holders and self._resume:
                    gc.enable()


#: ``with collection_paused():`` holds the cyclic collector off (see :class:`_CollectorPause`).
collection_paused = _CollectorPause()
