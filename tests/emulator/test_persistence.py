"""The emulator's state file: the org outlives a restart or a crash; atomic writes; foreign files refused."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from airflow_crm_provider.testing.emulator import REFRESH_TOKEN, SEED_IDS
from airflow_crm_provider.testing.emulator.persistence import (
    STATE_FILE_VARIABLE,
    StateFileError,
    dump,
    restore,
    write_atomically,
)
from airflow_crm_provider.testing.emulator.state import EmulatorState
from airflow_crm_provider.testing.process import start_emulator

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import Crm


def test_a_restored_state_is_the_same_org() -> None:
    before = EmulatorState({"latency": 0.5})
    [new_id] = before.store.seed("Leads", count=1, fields={"City": "Porto"})
    before.store.modules["Leads"].records[SEED_IDS[0]]["City"] = "Lisbon"
    token = before.tokens.mint(REFRESH_TOKEN, time.time(), 3600).token
    before.counters.records_changed = 7
    before.remember(
        {"method": "POST", "path": "/crm/v8/x", "query": {}, "headers": {}, "body": None, "status": 200}
    )

    after = EmulatorState()
    restore(after, dump(before))

    leads = after.store.modules["Leads"]
    assert leads.records[new_id]["City"] == "Porto"
    assert leads.records[SEED_IDS[0]]["City"] == "Lisbon"
    assert after.config.latency == 0.5
    assert after.counters.records_changed == 7
    assert [e["path"] for e in after.log] == ["/crm/v8/x"]
    assert after.log.maxlen == after.config.log_limit
    assert after.tokens.find(token) is not None
    # ids go on where they stopped: a record created after the restart is a new one
    [next_id] = after.store.generate("Leads", 1)
    assert int(next_id) == int(new_id) + 1


def test_a_foreign_or_older_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(StateFileError, match=r"org\.state is not an emulator state.*delete it"):
        restore(EmulatorState(), b"not a pickle", "org.state")
    older = pickle.dumps({"format": 0, "state": {}})
    with pytest.raises(StateFileError, match="another version of the emulator"):
        restore(EmulatorState(), older, "org.state")


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "org.state"
    write_atomically(path, b"old")

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["org.state"]  # no temporary file left behind


def test_a_killed_emulator_comes_back_with_its_org(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crm_at: Callable[[str, str | None], Crm]
) -> None:
    monkeypatch.setenv(STATE_FILE_VARIABLE, str(tmp_path / "org.state"))
    first = start_emulator()
    try:
        first.client.configure(latency=0.05)
        [lead] = first.client.seed(count=1)
        crm = crm_at(first.url, None)
        answer = crm.mass_update({"data": [{"City": "Porto"}], "ids": [lead]})
        assert answer.json()["data"][0]["code"] == "SUCCESS"
    finally:
        first.process.kill()  # a crash: no chance to save on the way out
        first.process.wait()
        first.client.close()

    with start_emulator() as second:
        assert second.client.record("Leads", lead)["City"] == "Porto"  # the answered update survived
        assert second.client.config()["latency"] == 0.05
        assert second.client.counters()["records_changed"] == 1
        updates = [e for e in second.client.log() if e["path"].endswith("/mass_update")]
        assert [(e["body"]["ids"], e["status"]) for e in updates] == [([lead], 200)]
        crm = crm_at(second.url, crm.token)  # the token minted before the crash still works
        assert (
            crm.mass_update({"data": [{"City": "Braga"}], "ids": [lead]}).json()["data"][0]["code"]
            == "SUCCESS"
        )
        assert second.client.counters()["tokens_minted"] == 1

    monkeypatch.delenv(STATE_FILE_VARIABLE)
    with start_emulator() as without:  # opt-in: no state file, a new org
        assert without.client.record("Leads", lead) is None


def test_an_unreadable_state_file_stops_the_start_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "org.state"
    path.write_bytes(b"garbage")
    done = subprocess.run(
        [sys.executable, "-m", "airflow_crm_provider.testing.emulator", "--state-file", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"{path} is not an emulator state" in done.stderr
    assert "delete it to start a new org" in done.stderr
