"""
What every write run is told besides its records: the error policy, the thresholds, how ids are sent.

Checked once for any Zoho write action (the batch size is capped by the action's own limit); an
unusable argument raises :class:`InputError`, which the operator turns into a refusal before any call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_crm_provider.runs.ids_runner import IdsSettings
from airflow_crm_provider.runs.outcomes import Thresholds
from airflow_crm_provider.zoho.errors import ErrorClass, parse_error_policy
from airflow_crm_provider.zoho.settings import MAX_CONCURRENCY, seconds


class InputError(ValueError):
    """A rendered operator argument is not usable; nothing has been sent."""


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """
    Check an integer setting lies in ``[low, high]``.

    :param name: argument name for the message.
    :param value: the value.
    :param low: smallest allowed value.
    :param high: largest allowed value, if bounded.
    :raises InputError: if it is not an int in range.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InputError(f"{name} must be an integer {bound}, got {value!r}")
    return value


def check_ratio(name: str, value: Any) -> float:
    """
    Check a ratio lies in ``[0, 1]``.

    :param name: argument name for the message.
    :param value: the value.
    :raises InputError: if it is not a number in range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InputError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class RunPolicy:
    """
    What every write run is told besides its records, validated.

    :param overrides: the user's per-code error classes.
    :param thresholds: the task-outcome thresholds.
    :param sending: how ids are sent.
    """

    overrides: dict[str, ErrorClass]
    thresholds: Thresholds
    sending: IdsSettings


def check_policy(
    *,
    error_policy: Any,
    max_failed_records: Any,
    max_skipped_ratio: Any,
    soft_fail: Any,
    batch_size: Any,
    batch_limit: int,
    max_concurrency: Any,
    locked_retries: Any,
    locked_retry_delay: Any,
) -> RunPolicy:
    """
    Validate what every write run shares (see the base operator for the arguments' meaning).

    :param batch_limit: the most ids one call of the action takes; ``batch_size=None`` means that.
    :raises InputError: naming the first argument that is not usable.
    """
    try:
        overrides = parse_error_policy(error_policy)
    except ValueError as err:
        raise InputError(str(err)) from err
    if batch_size is None:
        batch_size = batch_limit
    return RunPolicy(
        overrides=overrides,
        thresholds=Thresholds(
            max_failed_records=check_int("max_failed_records", max_failed_records, 0),
            max_skipped_ratio=check_ratio("max_skipped_ratio", max_skipped_ratio),
            soft_fail=bool(soft_fail),
        ),
        sending=IdsSettings(
            batch_size=check_int(
                "batch_size", batch_limit if batch_size is None else batch_size, 1, batch_limit
            ),
            max_concurrency=check_int("max_concurrency", max_concurrency, 1, MAX_CONCURRENCY),
            locked_retries=check_int("locked_retries", locked_retries, 0),
            locked_retry_delay=seconds(
                locked_retry_delay, "locked_retry_delay", zero_ok=True, error=InputError
            ),
        ),
    )
