"""
The run's credit floor (``min_credits_remaining``): the credits that must remain after every call.

A call costing ``c`` credits is made only if ``remaining - c`` (less what the calls still in flight
may cost) is at least the floor. Independent of Airflow: it reads the hook's
:class:`~airflow_crm_provider.zoho.credits.CreditMeter`, which sees every Zoho reply. Zoho sends
``X-API-CREDITS-REMAINING`` only once half of the org's credits are used, so a meter that knows
nothing after one call means more than half remain.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from airflow_crm_provider.runs.inputs import InputError
from airflow_crm_provider.zoho.errors import ZohoCreditFloorError, ZohoCreditsExhaustedError, ZohoCRMError

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
    from airflow_crm_provider.zoho.credits import CreditMeter

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

#: API credits one call costs: Zoho's default weight, taken for every call kind alike (reads, writes, polls).
CALL_COST = 1


def check_floor(value: Any) -> int | None:
    """
    Check ``min_credits_remaining``: None (no floor) or an integer >= 0.

    :param value: the argument.
    :raises InputError: naming the bad value.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"min_credits_remaining must be an integer >= 0 or None, got {value!r}")
    return value


def below_floor(meter: CreditMeter, floor: int, in_flight: int = 0, left: int | None = None) -> str | None:
    """
    Return why the next call must not be made (it would leave fewer credits than ``floor``), or None.

    :param meter: the hook's credit meter.
    :param floor: ``min_credits_remaining``.
    :param in_flight: calls made but not answered yet (their credits are counted as spent).
    :param left: the credits left once those calls are answered, if known better than the meter's
        word less ``in_flight`` (replies of calls side by side arrive in any order).
    """
    remaining = meter.remaining
    if meter.exhausted:
        return (
            "the org's Zoho CRM API credits are spent; they come back over a rolling 24 hours "
            f"(min_credits_remaining={floor})"
        )
    if remaining is None:
        return None
    if left is None:
        left = remaining - in_flight * CALL_COST
    if left - CALL_COST >= floor:
        return None
    if remaining < floor:
        said = f"{remaining} Zoho CRM API credit(s) remain, fewer than min_credits_remaining={floor}"
    else:
        pending = f" and {in_flight} call(s) in flight" if in_flight else ""
        said = (
            f"{remaining} Zoho CRM API credit(s) remain{pending}: one more call would leave fewer than "
            f"min_credits_remaining={floor}"
        )
    return f"{said}: stopped so the org's other integrations keep theirs"


class CreditGuard:
    """
    Admit a call only if it leaves at least ``floor`` credits, counting the calls still in flight.

    :param meter: the hook's credit meter.
    :param floor: ``min_credits_remaining``.
    """

    def __init__(self, meter: CreditMeter, floor: int) -> None:
        self._meter = meter
        self._floor = floor
        self._lock = threading.Lock()
        self._in_flight = 0
        #: the credits left once every call admitted is answered, counted down by this guard
        self._left: int | None = None

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """
        Make the call ``fn(*args, **kwargs)`` if the floor allows it.

        :raises ZohoCreditFloorError: instead of calling.
        """
        with self._lock:
            remaining = self._meter.remaining
            if remaining is not None:  # a stale reply (answered before a later one) never raises it
                said = remaining - self._in_flight * CALL_COST
                self._left = said if self._left is None else min(self._left, said)
            reason = below_floor(self._meter, self._floor, self._in_flight, self._left)
            if reason is not None:
                raise ZohoCreditFloorError(reason)
            self._in_flight += 1
            if self._left is not None:
                self._left -= CALL_COST
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self._in_flight -= 1


def floor_at_start(hook: ZohoCRMHook, floor: int | None) -> str | None:
    """
    Before the first write: learn the credits with one cheap call if none is known, and check the floor.

    :param hook: the run's hook.
    :param floor: ``min_credits_remaining`` (None: no check, no call).
    :return: why the run must not start, or None.
    """
    if floor is None:
        return None
    meter = hook.credits
    if meter.remaining is None and not meter.exhausted:
        try:
            hook.get_org()
        except ZohoCreditsExhaustedError:
            pass  # the meter now says so
        except ZohoCRMError as err:
            log.warning("Could not learn the org's API credits (GET org failed: %s); going on", err)
            return None
    reason = below_floor(meter, floor)
    if reason is None and meter.remaining is None:
        log.info(
            "Zoho sent no X-API-CREDITS-REMAINING: it does so once half of the org's credits are used, "
            "so more than half remain; going on (min_credits_remaining=%d)",
            floor,
        )
    elif reason is None:
        log.info("%d Zoho CRM API credit(s) remain (min_credits_remaining=%d)", meter.remaining, floor)
    return reason


def guarded(send: Callable[P, T], meter: CreditMeter, floor: int | None) -> Callable[P, T]:
    """
    Wrap a write (``send(chunk)``) so that no call is made that would leave fewer credits than ``floor``.

    :param send: one write call of the run (a chunk).
    :param meter: the hook's credit meter.
    :param floor: ``min_credits_remaining`` (None: ``send`` unchanged).
    :raises ZohoCreditFloorError: instead of sending (the run stops; the chunk is ``NOT_SENT``).
    """
    if floor is None:
        return send
    guard = CreditGuard(meter, floor)

    def send_above_floor(*args: P.args, **kwargs: P.kwargs) -> T:
        return guard.call(send, *args, **kwargs)

    return send_above_floor
