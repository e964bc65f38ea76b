"""Version flags and imports that differ between the Airflow releases we support (3.1+)."""

from __future__ import annotations

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

_BASE = Version(Version(AIRFLOW_VERSION).base_version)

AIRFLOW_V_3_2_PLUS = Version("3.2.0") <= _BASE
AIRFLOW_V_3_3_PLUS = Version("3.3.0") <= _BASE

__all__ = ["AIRFLOW_VERSION", "AIRFLOW_V_3_2_PLUS", "AIRFLOW_V_3_3_PLUS"]
