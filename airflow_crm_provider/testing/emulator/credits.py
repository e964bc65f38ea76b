"""
The org's API credits: a budget over a rolling window, the credit 429 and ``X-API-CREDITS-REMAINING``.

Zoho gives each org a number of credits per rolling 24 hours, shared by every app and token of the
org; a call past it answers 429 ``TOO_MANY_REQUESTS`` with a message naming the past 24 hours. Zoho
documents the header ``X-API-CREDITS-REMAINING`` as sent only once half of the credits are used.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.responses import Response

    from airflow_crm_provider.testing.emulator.config import EmulatorConfig

#: The header of the credits left (Zoho's spelling).
HEADER = "X-API-CREDITS-REMAINING"


class CreditBook:
    """
    Credits one org used over a rolling window, as ``(time, credits)`` entries, oldest first.

    Kept only while the org has a budget (``credit_budget`` set), so an unlimited emulator stays as
    cheap as before; entries older than the window are dropped as the book is read.
    """

    def __init__(self) -> None:
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0

    def used(self, now: float, window: float) -> int:
        """
        Return the credits used in the ``window`` seconds up to ``now``.

        :param now: the current time (epoch seconds).
        :param window: the rolling window, in seconds.
        """
        spent = self._spent
        while spent and spent[0][0] <= now - window:
            self._total -= spent.popleft()[1]
        return self._total

    def spend(self, now: float, credits: int = 1) -> None:
        """
        Record ``credits`` used at ``now``.

        :param now: the current time.
        :param credits: how many (at least 1).
        """
        if credits > 0:
            self._spent.append((now, credits))
            self._total += credits

    def set_used(self, now: float, credits: int) -> None:
        """
        Forget every earlier cost and record ``credits`` used at ``now`` (0 clears the book).

        :param now: the current time.
        :param credits: the credits used now.
        """
        self._spent.clear()
        self._total = 0
        self.spend(now, credits)

    def admit(self, config: EmulatorConfig, now: float, cost: int = 1) -> bool:
        """
        Charge a request's credits, unless that exceeds the budget.

        :param config: the settings (``credit_budget``, ``credit_window``).
        :param now: the current time.
        :param cost: the request's credits (1; 1 per 10 records for Update Records and Upsert).
        :return: False when the request must be answered with the credit 429 (it then costs nothing).
        """
        budget = config.credit_budget
        if budget is None:
            return True
        if self.used(now, config.credit_window) + cost > budget:
            return False
        self.spend(now, cost)
        return True

    def remaining(self, config: EmulatorConfig, now: float) -> int | None:
        """Return the credits left now (None without a budget)."""
        if config.credit_budget is None:
            return None
        return max(0, config.credit_budget - self.used(now, config.credit_window))

    def stamp(self, config: EmulatorConfig, now: float, response: Response) -> None:
        """
        Add ``X-API-CREDITS-REMAINING`` to a CRM reply once at least half the budget is used.

        :param config: the settings.
        :param now: the current time.
        :param response: the reply about to be sent.
        """
        budget = config.credit_budget
        if budget is None:
            return
        used = self.used(now, config.credit_window)
        if 2 * used >= budget:
            response.headers[HEADER] = str(max(0, budget - used))

    def as_dict(self, config: EmulatorConfig, now: float) -> dict[str, Any]:
        """Return ``{"budget", "window", "used", "remaining"}`` for the admin API."""
        return {
            "budget": config.credit_budget,
            "window": config.credit_window,
            "used": self.used(now, config.credit_window),
            "remaining": self.remaining(config, now),
        }
