"""Fixtures of the UI tests: the migrated metadata DB of the operator tests."""

from __future__ import annotations

from tests.operator.conftest import airflow_db

__all__ = ["airflow_db"]
