"""Everything the emulator remembers between requests, in one object that ``reset`` rebuilds."""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_crm_provider.testing.emulator.config import EmulatorConfig
from airflow_crm_provider.testing.emulator.credits import CreditBook
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
    #: Update Records / Update a Record PUTs, and Upsert POSTs
    update_puts: int = 0
    upsert_posts: int = 0
    records_changed: int = 0
    #: records created by upserts
    records_inserted: int = 0
    #: automation (``workflow``, ``approval``...) -> records written with it on (the emulator runs none)
    triggers_fired: dict[str, int] = field(default_factory=dict)
    jobs_scheduled: int = 0
    #: the most CRM requests one app (client id) had in flight at once in the org, over all its tokens
    max_in_flight: int = 0
    #: the most heavy requests (mass update POSTs, writes of more than 10 records) one app had in flight
    max_heavy_in_flight: int = 0
    answered_429: int = 0
    #: of those, 429s because the org's API credits were spent (``credit_budget``)
    answered_credit_429: int = 0
    answered_5xx: int = 0
    dropped_connections: int = 0
    lost_replies: int = 0
    garbled_replies: int = 0
    #: replies broken on the wire by ``stall_replies`` or ``short_replies``
    broken_replies: int = 0
    #: requests answered by a refusal seeded through the admin API
    refusals_answered: int = 0
    #: access tokens invalidated because a newer one exceeded the active-token limit
    tokens_evicted: int = 0


class EmulatorState:
    """
    Settings, records, tokens, jobs, credits, request log and counters of one emulator.

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
        #: (app, pool) -> requests in flight; pool ``"all"`` or ``"heavy"``
        self.in_flight: dict[tuple[str, str], int] = {}
        #: request-level refusals seeded through the admin API (see :mod:`.refusals`)
        self.refusals: list[dict[str, Any]] = []
        #: the org's API credits over the rolling window (one org: one book, shared by every app)
        self.credits = CreditBook()

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

    def enter(self, app: str, heavy: bool) -> bool:
        """
        Admit one more in-flight request of ``app`` unless that hits the org's concurrency limits.

        Zoho counts concurrency per org and app, over all the app's tokens, with a sub-limit for
        heavy calls within it.

        :param app: the client id of the request's access token.
        :param heavy: whether the request is a heavy call (mass update POST, write of 11+ records).
        :return: False when the request must be answered 429.
        """
        calls, heavy_calls = self.config.limits()
        current = self.in_flight.get((app, "all"), 0)
        current_heavy = self.in_flight.get((app, "heavy"), 0)
        if current >= calls or (heavy and current_heavy >= heavy_calls):
            return False
        self.in_flight[(app, "all")] = current + 1
        self.counters.max_in_flight = max(self.counters.max_in_flight, current + 1)
        if heavy:
            self.in_flight[(app, "heavy")] = current_heavy + 1
            self.counters.max_heavy_in_flight = max(self.counters.max_heavy_in_flight, current_heavy + 1)
        return True

    def leave(self, app: str, heavy: bool) -> None:
        """Release one in-flight request of ``app`` (admitted by :meth:`enter` with the same ``heavy``)."""
        for pool in ("all", "heavy") if heavy else ("all",):
            remaining = self.in_flight.get((app, pool), 1) - 1
            if remaining > 0:
                self.in_flight[(app, pool)] = remaining
            else:
                self.in_flight.pop((app, pool), None)

    def counters_dict(self) -> dict[str, Any]:
        """Return the counters as a JSON-ready mapping."""
        self.counters.tokens_evicted = sum(t.evicted for t in self.tokens.access.values())
        return asdict(self.counters)
