"""
Chaos over 20,000 Leads: latency, 429s, 5xx, dropped connections and token expiries mid-run.

Whatever happens, the ``records`` XCom tells the truth about the store, and no more tokens are
minted than one plus the number of expiries. With faults the hook can retry through, every record
is updated.
"""

from __future__ import annotations

import pytest

from tests.reliability.helpers import CHAOS_HOOK, Expirer, action_kwargs, expected, run_operator

RECORDS = 20_000
FIELD = "City"  # text: any marker value passes the preflight


@pytest.mark.parametrize(
    ("action", "in_flight", "seed"),
    [
        ("mass_update", 4, 9_004),
        ("update_records", 4, 9_104),
        ("upsert", 4, 9_204),
        pytest.param("mass_update", 10, 9_010, marks=pytest.mark.slow),
    ],
    ids=["4-in-flight", "update-records", "upsert", "10-in-flight"],
)
def test_chaos_every_record_right(zoho_crm_conn, zoho_emulator, knobs, action, in_flight, seed):
    client = zoho_emulator.client
    ids = client.seed("Leads", count=RECORDS)
    before = {i: r.get(FIELD) for i, r in client.records("Leads").items()}
    value = f"Chaos {seed}"
    wanted = expected(action, ids, value)
    chaos = {
        "seed": seed,
        "latency": 0.01,
        "latency_jitter": 0.04,
        "rate_429": 0.04,
        "rate_5xx": 0.04,
        "drop_connections": 2,
        "concurrency_limit": 10,
    }
    # three expiries, each with a dropped connection: ~10% of ~50 requests fail (of ~250 per record)
    expire_at = [6, 16, 26]
    knobs.update(chaos, in_flight=in_flight, records=RECORDS, expire_at_posts=expire_at, hook=CHAOS_HOOK)
    client.configure(**chaos)
    expirer = Expirer(client, expire_at, also={"drop_connections": 1})
    expirer.start()
    try:
        end = run_operator(
            **action_kwargs(action, ids, FIELD, value), max_concurrency=in_flight, hook_params=CHAOS_HOOK
        )
    finally:
        expirer.stop.set()
        expirer.join()
    counters = client.counters()
    knobs.update(outcome=end.state, error=str(end.error), counters=counters, expiries=expirer.done)

    after = client.records("Leads")
    records = end.records
    assert [r["id"] for r in records] == ids  # one record per id, input order
    for record in records:
        stored = after[record["id"]].get(FIELD)
        if record["outcome"] == "updated":
            assert stored == wanted[record["id"]], record
        else:
            assert stored == before[record["id"]], record  # reported not updated: untouched
    assert counters["tokens_minted"] <= 1 + expirer.done
    assert counters["answered_429"] + counters["answered_5xx"] + counters["dropped_connections"] > 0
    assert end.state == "success", end.error
    assert end.summary["updated"] == RECORDS
    assert all(after[i].get(FIELD) == v for i, v in wanted.items())
