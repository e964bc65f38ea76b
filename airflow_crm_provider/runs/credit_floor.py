"""
The run's credit floor (``min_credits_remaining``): refuse to start, or to go on, below it.

Independent of Airflow: it reads the hook's :class:`~airflow_crm_provider.zoho.credits.CreditMeter`,
which sees every Zoho reply. Zoho sends ``X-API-CREDITS-REMAINING`` only once half of the org's
credits are used, so a meter that knows nothing after one call means more than half remain.
"""

from __future__ import annotations

import logging
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


def below_floor(meter: CreditMeter, floor: int) -> str | None:
    """
    Return why the run must not send more (fewer credits left than ``floor``), or None to go on.

    :param meter: the hook's credit meter.
    :param floor: ``min_credits_remaining``.
    """
    remaining = meter.remaining
    if meter.exhausted:
        return (
            "the org's Zoho CRM API credits are spent; they come back over a rolling 24 hours "
            f"(min_credits_remaining={floor})"
        )
    if remaining is not None and remaining < floor:
        return (
            f"{remaining} Zoho CRM API credit(s) remain, fewer than min_credits_remaining={floor}: "
            "stopped so the org's other integrations keep theirs"
        )
    return None


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
    Wrap a write (``send(chunk)``) so that nothing more is sent once the credits are below ``floor``.

    :param send: one write call of the run (a chunk).
    :param meter: the hook's credit meter.
    :param floor: ``min_credits_remaining`` (None: ``send`` unchanged).
    :raises ZohoCreditFloorError: instead of sending (the run stops; the chunk is ``NOT_SENT``).
    """
    if floor is None:
        return send

    def send_above_floor(*args: P.args, **kwargs: P.kwargs) -> T:
        reason = below_floor(meter, floor)
        if reason is not None:
            raise ZohoCreditFloorError(reason)
        return send(*args, **kwargs)

    return send_above_floor
