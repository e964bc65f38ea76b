"""Everything the emulator remembers between requests, in one object that ``reset`` rebuilds."""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_crm_provider.testing.emulator.config import EmulatorConfig
from airflow_crm_provider.testing.emulator.jobs import JobBook
from airflow_crm_provider.testing.emulator.store import RecordStore, zoho_time
from airflow_crm_provider.testing.emulator.tokens import TokenRegistry


@dataclass
class Counters:
    """What the emulator has seen since the last reset (read through the admin API)."""

    tokens_minted: int = 0
    mints_throttled: int = 0
    #: ``"METHOD /path"`` -> requests (admin calls are not counted)
    requests: dict[str, int] = field(default_factory=dict)
    mass_update_posts: int = 0
    status_gets: int = 0
    record_gets: int = 0
    records_changed: int = 0
    jobs_scheduled: int = 0
    #: the most CRM requests one access token had in flight at once
    max_in_flight: int = 0
    answered_429: int = 0
    answered_5xx: int = 0
    dropped_connections: int = 0


class EmulatorState:
    """
    Settings, records, tokens, jobs, request log and counters of one emulator.

    All access happens on the server's event loop, so no locking is needed.

    :param overrides: settings that differ from :class:`EmulatorConfig`'s defaults.
    """

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        #: bumped by every reset, so a request still waiting out its latency can tell it is stale
        self.epoch = 0
        self.reset(overrides)

    def reset(self, overrides: dict[str, Any] | None = None) -> None:
        """
        Go back to the default records, no tokens, no jobs, an empty log and default settings.

        :param overrides: settings to apply on top of the defaults.
        :raises ValueError: for an unknown setting or bad value (the state is then left unchanged).
        """
        config = EmulatorConfig().updated(overrides)
        self.epoch += 1
        self.config = config
        self.store = RecordStore()
        self.tokens = TokenRegistry()
        self.jobs = JobBook()
        self.log: deque[dict[str, Any]] = deque(maxlen=config.log_limit)
        self.counters = Counters()
        self.rng = random.Random(config.seed)
        self.in_flight: dict[str, int] = {}

    def configure(self, changes: dict[str, Any]) -> None:
        """
        Change some settings, keeping the rest and all data.

        :param changes: setting name -> new value.
        :raises ValueError: for an unknown setting or bad value (nothing is changed then).
        """
        config = self.config.updated(changes)
        if "seed" in changes:
            self.rng = random.Random(config.seed)
        if "log_limit" in changes:
            self.log = deque(self.log, maxlen=config.log_limit)
        self.config = config

    def remember(self, entry: dict[str, Any]) -> None:
        """
        Add a request to the log and count it under ``"METHOD /path"``.

        :param entry: ``{"method", "path", "query", "headers", "body", "status"}``.
        """
        self.log.append(entry)
        key = f"{entry['method']} {entry['path']}"
        self.counters.requests[key] = self.counters.requests.get(key, 0) + 1

    def advance_jobs(self, now: float | None = None) -> None:
        """Apply every job's progress due by ``now`` to the records (call before reading state)."""
        now = time.time() if now is None else now
        self.counters.records_changed += self.jobs.advance(self.store.modules, now, zoho_time(now))

    def enter(self, token: str) -> bool:
        """
        Admit one more in-flight request for ``token`` unless it is at the concurrency limit.

        :param token: the access token of the request.
        :return: False when the request must be answered 429.
        """
        current = self.in_flight.get(token, 0)
        if current >= self.config.concurrency_limit:
            return False
        self.in_flight[token] = current + 1
        self.counters.max_in_flight = max(self.counters.max_in_flight, current + 1)
        return True

    def leave(self, token: str) -> None:
        """Release one in-flight request of ``token``."""
        remaining = self.in_flight.get(token, 1) - 1
        if remaining > 0:
            self.in_flight[token] = remaining
        else:
            self.in_flight.pop(token, None)

    def counters_dict(self) -> dict[str, Any]:
        """Return the counters as a JSON-ready mapping."""
        return asdict(self.counters)
