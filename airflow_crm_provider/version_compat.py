"""What differs between the Airflow releases this provider supports (3.1+), in one place."""

from __future__ import annotations

from airflow import __version__ as AIRFLOW_VERSION
from airflow.exceptions import AirflowProviderDeprecationWarning  # its home in 3.1 to 3.3 alike
from packaging.version import Version

_BASE = Version(Version(AIRFLOW_VERSION).base_version)

AIRFLOW_V_3_2_PLUS = Version("3.2.0") <= _BASE
AIRFLOW_V_3_3_PLUS = Version("3.3.0") <= _BASE

try:  # Airflow 3.2+: the Task SDK owns them (airflow.exceptions only re-exports, with a warning)
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException, AirflowSkipException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSkipException,
    )

try:  # Task SDK 1.3+ (Airflow 3.3)
    from airflow.sdk import conf
except ImportError:  # Airflow 3.1, 3.2
    from airflow.configuration import conf  # type: ignore[assignment]

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowProviderDeprecationWarning",
    "AirflowSkipException",
    "conf",
]
