"""Airflow task-ending exceptions and ``conf`` from where this Airflow version keeps them."""

from __future__ import annotations

try:  # Airflow 3.2+: the Task SDK owns them (airflow.exceptions only re-exports, with a warning)
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowFailException, AirflowSkipException  # type: ignore[no-redef]

try:  # Task SDK 1.3+ (Airflow 3.3)
    from airflow.sdk import conf
except ImportError:  # Airflow 3.1, 3.2
    from airflow.configuration import conf  # type: ignore[assignment]

__all__ = ["AirflowFailException", "AirflowSkipException", "conf"]
