"""Former argument names that keep working for now, each with a deprecation warning."""

from __future__ import annotations

import warnings
from typing import Any

from airflow_crm_provider.version_compat import AirflowProviderDeprecationWarning


def renamed_conn_id(conn_id: str, kwargs: dict[str, Any], *, default: str) -> str:
    """
    Return the connection id, taking the former ``zoho_conn_id`` out of ``kwargs`` with a warning.

    :param conn_id: the ``zoho_crm_conn_id`` argument as given.
    :param kwargs: the other keyword arguments; ``zoho_conn_id`` is removed from them.
    :param default: ``zoho_crm_conn_id``'s default (the former name applies only when it is unset).
    :raises TypeError: both names were given, with different values.
    """
    if "zoho_conn_id" not in kwargs:
        return conn_id
    former = kwargs.pop("zoho_conn_id")
    warnings.warn(
        "zoho_conn_id is deprecated: use zoho_crm_conn_id (the name follows the zoho_crm connection type)",
        AirflowProviderDeprecationWarning,
        stacklevel=3,
    )
    if conn_id != default and conn_id != former:
        raise TypeError(f"give zoho_crm_conn_id or zoho_conn_id, not both ({conn_id!r}, {former!r})")
    return str(former)
