"""
Validated inputs of a job-mode run: the custom view (and territory), timing and everything else.

Each check raises :class:`~airflow_crm_provider.runs.inputs.InputError`; the operator turns it
into ``AirflowFailException`` before any request is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.runs.inputs import InputError, parse_ids
from airflow_crm_provider.runs.ledger import fingerprint
from airflow_crm_provider.runs.outcomes import Thresholds
from airflow_crm_provider.zoho.settings import seconds

#: Seconds between job status requests by default.
POLL_INTERVAL = 30.0

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_crm_provider.zoho.errors import ErrorClass


@dataclass(frozen=True)
class ViewTarget:
    """
    The records a job updates: a custom view, optionally narrowed to a territory.

    :param cvid: custom view id.
    :param territory_id: territory id, or ``None``.
    :param include_child: also the territory's child territories.
    """

    cvid: str
    territory_id: str | None = None
    include_child: bool = False


def is_unset(value: Any) -> bool:
    """Tell whether a rendered ``cvid``/``territory_id`` means "not given" (``None``, blank, "None")."""
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))


def _view_id(name: str, value: Any) -> str | None:
    if is_unset(value):
        return None
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.isdigit():
        raise InputError(f"{name} must be a numeric Zoho id, got {value!r}")
    return text


def check_view_target(
    *, ids: Any, cvid: Any, territory_id: Any, include_child: Any, dry_run: bool
) -> ViewTarget | None:
    """
    Return the job target if ``cvid`` is given (job mode), else ``None`` (ids mode).

    :param ids: the rendered ``ids`` argument (must render to no id when ``cvid`` is given).
    :param cvid: the rendered ``cvid`` argument.
    :param territory_id: the rendered ``territory_id`` argument (needs ``cvid``).
    :param include_child: also update child territories.
    :param dry_run: the ``dry_run`` flag (ids mode only).
    :raises InputError: naming the conflicting or malformed argument.
    """
    view = _view_id("cvid", cvid)
    territory = _view_id("territory_id", territory_id)
    if territory is not None and view is None:
        raise InputError(
            "territory_id needs cvid: Zoho mass-updates a territory's records within a custom view"
        )
    if view is None:
        return None
    if parse_ids(ids).ids:
        raise InputError("give either ids or cvid, not both: ids updates those records, cvid a custom view")
    if dry_run:
        raise InputError(
            "dry_run works in ids mode only: Zoho cannot list what a custom view job would change"
        )
    return ViewTarget(view, territory, bool(include_child) and territory is not None)


def check_timing(poll_interval: Any, timeout: Any) -> tuple[float, float | None]:
    """
    Check ``poll_interval`` (seconds > 0) and ``timeout`` (seconds > 0, a ``timedelta`` or ``None``).

    :param poll_interval: seconds between status requests.
    :param timeout: how long to wait for the job, or ``None`` for as long as it runs.
    :raises InputError: naming the bad value.
    """
    interval = seconds(poll_interval, "poll_interval", error=InputError)
    if isinstance(timeout, timedelta):
        timeout = timeout.total_seconds()
    return interval, None if timeout is None else seconds(timeout, "timeout", error=InputError)


@dataclass(frozen=True)
class JobSettings:
    """
    Everything a job-mode run needs, validated.

    :param module: Zoho module API name.
    :param data: field API name -> value.
    :param target: the custom view (and territory).
    :param over_write: multi-select picklists: replace (``True``) or append (``False``).
    :param overrides: the user's per-code classes.
    :param thresholds: the user's thresholds.
    :param poll_interval: seconds between status requests.
    :param timeout: seconds to wait for the job, or ``None``.
    """

    module: str
    data: dict[str, Any]
    target: ViewTarget
    over_write: bool = False
    overrides: Mapping[str, ErrorClass] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    poll_interval: float = POLL_INTERVAL
    timeout: float | None = None

    def fingerprint(self) -> str:
        """Return a digest of what the job writes, so a retry only resumes a job for the same target."""
        return fingerprint(self.module, self.data, self.over_write, *vars(self.target).values())
