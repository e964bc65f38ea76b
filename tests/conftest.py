"""Test-wide settings: an isolated AIRFLOW_HOME, no examples, no network beyond loopback."""

from __future__ import annotations

import os
import tempfile

import pytest

_HOME = tempfile.mkdtemp(prefix="airflow-crm-provider-tests-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", os.path.join(os.path.dirname(__file__), "..", "dags"))
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME}/airflow.db")


def _redis_test_url() -> str:
    """The machine's Redis, one database per xdist worker: workers never share a token cache key."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return f"redis://127.0.0.1:6379/{15 - int(worker.removeprefix('gw') or 0) % 8}"


@pytest.fixture
def redis_url() -> str:
    """This worker's Redis database, emptied of cached tokens; skips where Redis is unreachable."""
    redis = pytest.importorskip("redis")
    url = _redis_test_url()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        for key in client.scan_iter("airflow-crm-provider:token:*"):
            client.delete(key)
    except Exception as exc:
        pytest.skip(f"Redis at 127.0.0.1:6379 is unreachable ({type(exc).__name__}): Redis cache not tested")
    return url
