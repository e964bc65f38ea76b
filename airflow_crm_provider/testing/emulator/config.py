"""The emulator's settings: one dataclass, validated on every change."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

#: Setting name -> kind, used to validate values from JSON (CLI ``--config`` or the admin API).
_KINDS: dict[str, str] = {
    "token_ttl": "seconds",
    "error_shape": "shape",
    "edition": "edition",
    "concurrency_limit": "optional_count",
    "heavy_concurrency_limit": "optional_count",
    "active_tokens": "count",
    "latency": "seconds",
    "latency_jitter": "seconds",
    "rate_429": "probability",
    "burst_429": "count",
    "retry_after": "optional_seconds",
    "rate_5xx": "probability",
    "burst_5xx": "count",
    "drop_connections": "count",
    "lose_replies": "count",
    "stall_replies": "count",
    "short_replies": "count",
    "garble_replies": "count",
    "job_duration": "seconds",
    "fail_jobs": "bool",
    "mint_limit": "count",
    "mint_window": "seconds",
    "seed": "optional_int",
    "log_limit": "count",
    "credit_budget": "optional_count",
    "credit_window": "positive_seconds",
    "partial_status": "partial_status",
}

ERROR_SHAPES = ("seed", "documented")
#: Zoho's concurrency limit per org and app, by edition (Kaizen #203; the table Airbyte hard-codes).
EDITION_CONCURRENCY: dict[str, int] = {
    "free": 5,
    "standard": 10,
    "professional": 15,
    "enterprise": 20,
    "ultimate": 25,
}
#: HTTP statuses an Update Records or Upsert reply may carry when some records failed and some did not.
PARTIAL_STATUSES = (207, 200)
#: Zoho's sub-concurrency limit of heavy calls (mass update among them), the same in every edition.
HEAVY_CONCURRENCY = 10


@dataclass
class EmulatorConfig:
    """
    How the emulator behaves. Every setting is optional; the defaults are Zoho's.

    Burst settings (``burst_429``, ``burst_5xx``, ``drop_connections``) count down as CRM requests
    consume them, so reading the config shows what is left.

    :param token_ttl: access token lifetime in seconds (Zoho: 3600).
    :param error_shape: ``"seed"`` answers request-level errors as HTTP 200 with one ``data[]`` entry
        without a record id (as the recorded responses show); ``"documented"`` answers a bare object
        with a 4xx status (as the docs say).
    :param edition: the org's Zoho edition (``free``, ``standard``, ``professional``, ``enterprise``,
        ``ultimate``); it sets the default concurrency limit (5, 10, 15, 20, 25).
    :param concurrency_limit: CRM requests in flight per org and app (client id) before 429
        TOO_MANY_REQUESTS; None: the edition's. Every token of the app shares it.
    :param heavy_concurrency_limit: heavy requests (mass update POSTs; Update Records and Upsert of
        more than 10 records) in flight per org and app, within ``concurrency_limit``; None: Zoho's 10.
    :param active_tokens: live access tokens per refresh token; minting one more invalidates the
        oldest, which then answers 401 INVALID_OAUTHTOKEN (Zoho: 15).
    :param latency: seconds added to every admitted CRM request.
    :param latency_jitter: up to this many more seconds, uniformly random.
    :param rate_429: probability that a CRM request answers 429.
    :param burst_429: the next N CRM requests answer 429.
    :param retry_after: seconds sent in a ``Retry-After`` header on 429s (Zoho sends none).
    :param rate_5xx: probability that a CRM request answers 500 INTERNAL_ERROR.
    :param burst_5xx: the next N CRM requests answer 500 INTERNAL_ERROR.
    :param drop_connections: the next N CRM requests get their TCP connection closed, no response.
    :param lose_replies: the next N admitted CRM requests are carried out (a mass update applied),
        then their connection is closed instead of answering: a reply lost after Zoho acted.
    :param stall_replies: the next N admitted CRM requests are carried out, then half their reply
        is sent and the connection left open without another byte (a stalled body).
    :param short_replies: the next N admitted CRM requests are carried out, then half their reply
        is sent under the full ``Content-Length`` and the connection closed (a short body).
    :param garble_replies: the next N admitted CRM requests are carried out, then answered HTTP 200
        with a body that is not JSON (cut or corrupted on the way): a reply that cannot be read.
    :param job_duration: seconds a cvid/territory job takes from SCHEDULED to COMPLETED.
    :param fail_jobs: new jobs end FAILED and change no record.
    :param mint_limit: access tokens one refresh token may mint per ``mint_window``.
    :param mint_window: seconds of the mint throttle window (Zoho: 10 per 600 s).
    :param seed: seed of the random generator behind jitter and fault rates (None: unseeded).
    :param log_limit: requests kept in the request log (oldest dropped first).
    :param credit_budget: API credits the org may use per ``credit_window`` (every authenticated CRM
        request costs 1, shared by all apps of the org); past it, 429 TOO_MANY_REQUESTS with
        :data:`~.faults.CREDITS_MESSAGE`. None: unlimited, and no ``X-API-CREDITS-REMAINING``.
    :param credit_window: seconds of the rolling credit window (Zoho: 24 hours).
    :param partial_status: HTTP status of an Update Records or Upsert reply in which some records
        failed and others did not: 207 (the v8 status page's Multi-Status) or 200; Zoho does not say.
    """

    token_ttl: float = 3600.0
    error_shape: str = "seed"
    edition: str = "enterprise"
    concurrency_limit: int | None = None
    heavy_concurrency_limit: int | None = None
    active_tokens: int = 15
    latency: float = 0.0
    latency_jitter: float = 0.0
    rate_429: float = 0.0
    burst_429: int = 0
    retry_after: float | None = None
    rate_5xx: float = 0.0
    burst_5xx: int = 0
    drop_connections: int = 0
    lose_replies: int = 0
    stall_replies: int = 0
    short_replies: int = 0
    garble_replies: int = 0
    job_duration: float = 3.0
    fail_jobs: bool = False
    mint_limit: int = 10
    mint_window: float = 600.0
    seed: int | None = None
    log_limit: int = 10_000
    credit_budget: int | None = None
    credit_window: float = 86400.0
    partial_status: int = PARTIAL_STATUSES[0]

    def updated(self, changes: dict[str, Any] | None) -> EmulatorConfig:
        """
        Return a copy with ``changes`` applied, after checking every name and value.

        :param changes: setting name -> new value.
        :raises ValueError: naming each unknown setting or bad value.
        """
        changes = dict(changes or {})
        unknown = sorted(set(changes) - set(_KINDS))
        if unknown:
            raise ValueError(f"unknown emulator settings {unknown}; known settings are {sorted(_KINDS)}")
        problems = [p for name, value in changes.items() if (p := _check(name, value))]
        if problems:
            raise ValueError("; ".join(problems))
        return dataclasses.replace(self, **changes)

    def limits(self) -> tuple[int, int]:
        """Return ``(calls, heavy calls)`` allowed in flight per org and app."""
        calls = self.concurrency_limit
        if calls is None:
            calls = EDITION_CONCURRENCY[self.edition]
        heavy = HEAVY_CONCURRENCY if self.heavy_concurrency_limit is None else self.heavy_concurrency_limit
        return calls, min(calls, heavy)

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready mapping."""
        return dataclasses.asdict(self)


def _check(name: str, value: Any) -> str | None:
    """Return why ``value`` is not valid for setting ``name``, or None when it is."""
    kind = _KINDS[name]
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind.startswith("optional_") and value is None:
        return None
    if kind in ("seconds", "optional_seconds") and not (is_number and value >= 0):
        return f"{name} must be a number of seconds >= 0, got {value!r}"
    if kind == "positive_seconds" and not (is_number and value > 0):
        return f"{name} must be a number of seconds > 0, got {value!r}"
    if kind == "probability" and not (is_number and 0 <= value <= 1):
        return f"{name} must be a probability between 0 and 1, got {value!r}"
    if kind == "edition" and value not in EDITION_CONCURRENCY:
        return f"{name} must be one of {list(EDITION_CONCURRENCY)}, got {value!r}"
    if kind in ("count", "optional_int", "optional_count") and not (
        isinstance(value, int) and not isinstance(value, bool)
    ):
        return f"{name} must be an integer, got {value!r}"
    if kind in ("count", "optional_count") and value < 0:
        return f"{name} must be >= 0, got {value!r}"
    if kind == "bool" and not isinstance(value, bool):
        return f"{name} must be true or false, got {value!r}"
    if kind == "partial_status" and (isinstance(value, bool) or value not in PARTIAL_STATUSES):
        return f"{name} must be one of {list(PARTIAL_STATUSES)}, got {value!r}"
    if kind == "shape" and value not in ERROR_SHAPES:
        return f"{name} must be one of {list(ERROR_SHAPES)}, got {value!r}"
    return None
