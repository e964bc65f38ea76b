"""
How the Zoho client retries: the one backoff, the time-bounded retry budget, and the plan that applies it.

The budget is time: by default a request rides out an outage of a minute or more, and no backoff
exceeds :data:`BACKOFF_SHARE` of the budget, so Zoho's return is noticed soon.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_crm_provider.zoho.errors import ZohoConnectionError, ZohoRateLimitError, ZohoTransientError
from airflow_crm_provider.zoho.http import Sleep

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_crm_provider.zoho.http import Plan, Reply, Send

T = TypeVar("T")


def backoff(base: float, attempt: int, cap: float = math.inf) -> float:
    """
    Return the wait before retry ``attempt`` (1-based): ``base * 2**(attempt - 1)``, capped, jittered.

    The one backoff of the client: request retries, the token-mint throttle and re-sends of locked
    records all wait this way. The jitter draws from ``[d/2, d]``, so callers spread out but never
    come back sooner than half the nominal delay.

    :param base: the first delay, in seconds.
    :param attempt: which retry this is (1 for the first).
    :param cap: the longest nominal delay.
    """
    nominal = min(cap, base * 2 ** max(attempt - 1, 0))
    return random.uniform(nominal / 2, nominal)


#: The longest backoff between two attempts, as a share of the request's time budget.
BACKOFF_SHARE = 1 / 8


@dataclass(frozen=True)
class Retries:
    """
    How often and how long a request is retried: :func:`backoff`, ``Retry-After``, bounded in time.

    The budget is time: by default a request rides out an outage of a minute or more (connections
    refused, 5xx, or several read timeouts of :data:`~.settings.DEFAULT_READ_TIMEOUT`), and no
    backoff exceeds :data:`BACKOFF_SHARE` of the budget, so Zoho's return is noticed soon.

    :param max_attempts: attempts per request, the first included.
    :param max_wait: seconds a request may take in total, waits included.
    :param backoff_base: first backoff in seconds; doubles per attempt (each delay is jittered).
    """

    max_attempts: int = 12
    max_wait: float = 120.0
    backoff_base: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_wait < 0 or self.backoff_base < 0:
            raise ValueError("max_attempts must be >= 1 and max_retry_wait/backoff_base >= 0")

    def next_delay(self, attempts: int, elapsed: float, retry_after: float | None = None) -> float | None:
        """
        Return how long to wait before the next attempt, or ``None`` to give up.

        :param attempts: attempts made so far.
        :param elapsed: seconds since the first attempt started.
        :param retry_after: the server's ``Retry-After``, if any (never waited less than that).
        """
        if attempts >= self.max_attempts:
            return None
        delay = backoff(self.backoff_base, attempts, cap=self.max_wait * BACKOFF_SHARE)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return None if elapsed + delay > self.max_wait else delay


def retrying(retries: Retries, send: Send, interpret: Callable[[Reply], T]) -> Plan[T]:
    """
    Plan: send ``send`` until ``interpret`` accepts the reply, retrying transient failures.

    :param retries: how often and how long to retry.
    :param send: the request.
    :param interpret: turns a reply into a result or raises a typed error; only
        :class:`~airflow_crm_provider.zoho.errors.ZohoTransientError` is retried.
    """
    start = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        result = yield send
        try:
            if isinstance(result, BaseException):
                raise result
            return interpret(result)
        except ZohoTransientError as exc:
            if isinstance(exc, ZohoConnectionError) and exc.maybe_delivered and not send.resendable:
                raise ZohoConnectionError(
                    f"{exc.message}; not re-sent: the request may have reached Zoho, and sending it "
                    "again could act twice (start a second job, insert a second record)"
                ) from exc
            elapsed = time.monotonic() - start
            retry_after = exc.retry_after if isinstance(exc, ZohoRateLimitError) else None
            delay = retries.next_delay(attempts, elapsed, retry_after)
            if delay is None:
                raise _exhausted(exc, attempts, elapsed) from exc
            yield Sleep(delay)


def _exhausted(exc: ZohoTransientError, attempts: int, elapsed: float) -> ZohoTransientError:
    message = f"{exc.message} (gave up after {attempts} attempt(s) in {elapsed:.1f}s)"
    kwargs: dict[str, Any] = {"code": exc.code, "details": exc.details, "http_status": exc.http_status}
    if isinstance(exc, ZohoRateLimitError):
        kwargs["retry_after"] = exc.retry_after
    if isinstance(exc, ZohoConnectionError):
        kwargs["maybe_delivered"] = exc.maybe_delivered
    return type(exc)(message, **kwargs)
