"""The planner: a valid plan, optimal against brute force, deterministic, and better than both naive ways."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_crm_provider.runs.inputs import InputError
from airflow_crm_provider.runs.planner import (
    MASS_UPDATE,
    UPDATE_RECORDS,
    Costs,
    MassRules,
    plan,
    plan_restore,
)
from airflow_crm_provider.runs.rows import Row, check_rows, value_key

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True)


def rows_of(values: list[dict]) -> list[Row]:
    return check_rows([{"id": str(10**17 + i), **v} for i, v in enumerate(values)])


def measures(p, costs: Costs) -> tuple[int, int]:
    """(calls, credits) of a plan, counted from its calls alone."""
    credits = sum(
        costs.mass_update_credits
        if c.kind == MASS_UPDATE
        else math.ceil(len(c.rows) / costs.records_per_credit)
        for c in p.calls
    )
    return len(p.calls), credits


def objective(calls: int, credits: int, optimize: str) -> tuple[int, int]:
    return (calls, credits) if optimize == "calls" else (credits, calls)


def assert_valid(p, rows: list[Row], costs: Costs, rules: MassRules) -> None:
    """Each row in one call, in input order; calls within Zoho's limits; a mass update's rows share values."""
    placed = [row.index for call in p.calls for row in call.rows]
    assert sorted(placed) == [row.index for row in rows]
    for call in p.calls:
        indices = [row.index for row in call.rows]
        assert indices == sorted(indices)
        assert call.rows
        if call.kind == MASS_UPDATE:
            assert len(call.rows) <= costs.mass_update_ids_per_call
            assert len({value_key(row.values) for row in call.rows}) == 1
            assert rules.allows(call.data)
        else:
            assert call.kind == UPDATE_RECORDS
            assert len(call.rows) <= costs.update_records_per_call
    updates = [row.index for call in p.calls if call.kind == UPDATE_RECORDS for row in call.rows]
    assert updates == sorted(updates)


def brute_force(rows: list[Row], costs: Costs, rules: MassRules, optimize: str) -> tuple[int, int]:
    """The best objective over every assignment of each row to a mass update or to Update Records."""
    eligible = [row for row in rows if rules.allows(row.values)]
    best = None
    for choice in itertools.product((False, True), repeat=len(eligible)):
        in_mass: dict[str, int] = {}
        for row, mass in zip(eligible, choice, strict=True):
            if mass:
                key = value_key(row.values)
                in_mass[key] = in_mass.get(key, 0) + 1
        mass_calls = sum(math.ceil(n / costs.mass_update_ids_per_call) for n in in_mass.values())
        pooled = len(rows) - sum(in_mass.values())
        chunks = [costs.update_records_per_call] * (pooled // costs.update_records_per_call)
        chunks += [pooled % costs.update_records_per_call] if pooled % costs.update_records_per_call else []
        calls = mass_calls + len(chunks)
        credits = mass_calls * costs.mass_update_credits
        credits += sum(math.ceil(n / costs.records_per_credit) for n in chunks)
        cost = objective(calls, credits, optimize)
        best = cost if best is None else min(best, cost)
    assert best is not None
    return best


small_costs = st.builds(
    Costs,
    update_records_per_call=st.integers(1, 5),
    records_per_credit=st.integers(1, 4),
    mass_update_ids_per_call=st.integers(1, 5),
    mass_update_credits=st.integers(0, 4),
)
small_values = st.lists(
    st.sampled_from(
        [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"S": "a", "T": 1}, {"O": {"id": "1"}}, {"S": None}]
    ),
    max_size=11,
)


@PROPERTY
@given(small_values, small_costs, st.sampled_from(["calls", "credits"]), st.integers(1, 2))
def test_the_plan_is_as_good_as_every_assignment_of_rows(values, costs, optimize, max_fields):
    rows = rows_of(values)
    rules = MassRules(max_fields=max_fields)
    p = plan(rows, optimize=optimize, costs=costs, rules=rules)
    assert_valid(p, rows, costs, rules)
    calls, credits = measures(p, costs)
    assert (p.mass_update_calls + p.update_calls, p.estimated_credits) == (calls, credits)
    assert objective(calls, credits, optimize) == brute_force(rows, costs, rules, optimize)


def best_by_group_counts(sizes: list[int], pooled: int, costs: Costs, optimize: str) -> tuple[int, int]:
    """The best objective over every number of mass updates per group (each taking all the rows it can)."""
    best = None
    step = costs.mass_update_ids_per_call
    for ks in itertools.product(*[range(math.ceil(g / step) + 1) for g in sizes]):
        pool = pooled + sum(g - min(g, k * step) for g, k in zip(sizes, ks, strict=True))
        calls = sum(ks) + costs.update_calls(pool)
        credits = sum(ks) * costs.mass_update_credits + costs.update_credits(pool)
        cost = objective(calls, credits, optimize)
        best = cost if best is None else min(best, cost)
    assert best is not None
    return best


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    st.lists(st.integers(1, 1300), max_size=5),
    st.integers(0, 300),
    st.sampled_from(["calls", "credits"]),
    st.integers(0, 60),
)
def test_the_plan_is_optimal_with_zohos_limits(sizes, lookups, optimize, mass_credits):
    values = [{"S": f"v{g}"} for g, n in enumerate(sizes) for _ in range(n)]
    values += [{"Owner": {"id": str(i)}} for i in range(lookups)]  # lookups never go as mass updates
    random.Random(len(values)).shuffle(values)
    costs = Costs(mass_update_credits=mass_credits)
    p = plan(rows_of(values), optimize=optimize, costs=costs)
    assert objective(*measures(p, costs), optimize) == best_by_group_counts(sizes, lookups, costs, optimize)


def test_the_same_rows_give_the_same_plan():
    values = [{"S": random.Random(7 + i).choice("abcdefg")} for i in range(3000)]
    values += [{"N": i} for i in range(150)]
    first, second = plan(rows_of(values)), plan(rows_of(list(values)))
    assert first == second
    assert [c.ids for c in first.calls] == [c.ids for c in second.calls]


def test_calls_and_credits_are_traded_as_asked():
    values = [{"S": "same"}] * 20 + [{"N": i} for i in range(80)]
    by_calls, by_credits = plan(rows_of(values), optimize="calls"), plan(rows_of(values), optimize="credits")
    assert by_calls.summary() == {
        "mass_update_calls": 0,
        "update_calls": 1,
        "estimated_credits": 10,
        "optimize": "calls",
    }
    assert by_credits.summary() == {
        "mass_update_calls": 1,
        "update_calls": 1,
        "estimated_credits": 9,
        "optimize": "credits",
    }
    assert by_credits.calls[0].data == {"S": "same"}
    assert by_credits.calls[0].ids == [str(10**17 + i) for i in range(20)]


def test_a_dear_mass_update_is_avoided_when_credits_count():
    rows = rows_of([{"S": "same"}] * 500)
    assert plan(rows, optimize="credits", costs=Costs(mass_update_credits=60)).summary()["update_calls"] == 5
    assert (
        plan(rows, optimize="calls", costs=Costs(mass_update_credits=60)).summary()["mass_update_calls"] == 1
    )


def test_a_group_past_500_sends_its_remainder_with_the_other_rows():
    values = [{"S": "a"}] * 510 + [{"N": i} for i in range(90)]
    p = plan(rows_of(values))
    assert [(c.kind, len(c.rows)) for c in p.calls] == [(MASS_UPDATE, 500), (UPDATE_RECORDS, 100)]
    assert p.calls[1].records()[0] == {"id": str(10**17 + 500), "S": "a"}


@pytest.mark.parametrize(
    ("rules", "values", "mass"),
    [
        (MassRules(), [{"S": "a", "T": "b"}] * 200, 0),
        (MassRules.for_module("Deals"), [{"S": "a", "T": "b"}] * 200, 1),
        (MassRules.for_module("Leads"), [{"S": "a", "T": "b"}] * 200, 0),
        (MassRules(blocked_fields=frozenset({"Email"})), [{"Email": "a@x.io"}] * 200, 0),
        (MassRules(), [{"Owner": {"id": "1"}}] * 200, 0),
        (MassRules(enabled=False), [{"S": "a"}] * 200, 0),
        (MassRules(), [{"S": "a"}] * 200, 1),
    ],
)
def test_rows_a_mass_update_cannot_take_go_as_update_records(rules, values, mass):
    p = plan(rows_of(values), rules=rules)
    assert (p.mass_update_calls, p.update_calls) == (mass, 0 if mass else 2)


def test_restoring_distinct_prior_values_costs_a_call_per_100_records():
    prior = {str(10**17 + i): {"Last_Name": f"name {i}"} for i in range(1000)}
    assert plan_restore(prior).summary() == {
        "mass_update_calls": 0,
        "update_calls": 10,
        "estimated_credits": 100,
        "optimize": "calls",
    }
    shared = {str(10**17 + i): {"Lead_Status": "New" if i % 2 else "Open"} for i in range(1000)}
    assert plan_restore(shared).summary()["mass_update_calls"] == 2
    with pytest.raises(InputError, match=r"rows\[1\] has only an id"):
        plan_restore({"1": {"X": 1}, "2": {}})


def test_describe_names_calls_records_and_the_credit_guess():
    p = plan(rows_of([{"S": "a"}] * 510 + [{"N": i} for i in range(90)]), optimize="credits")
    assert p.describe() == (
        "plan for the fewest credits: 2 calls for 600 records: 1 mass update (500 records, 1 value) and "
        "1 Update Records call (100 records); about 11 credits, counting 1 credit a mass update "
        "(Zoho does not document it)"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"update_records_per_call": 101}, "update_records_per_call must be an integer between 1 and 100"),
        ({"mass_update_ids_per_call": 0}, "mass_update_ids_per_call must be an integer between 1 and 500"),
        ({"records_per_credit": 2.5}, "records_per_credit must be an integer at least 1"),
        ({"mass_update_credits": -1}, "mass_update_credits must be an integer at least 0"),
        ({"mass_update_credits": True}, "mass_update_credits must be an integer at least 0"),
    ],
)
def test_bad_costs_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        Costs(**kwargs)


def test_bad_optimize_and_rows_without_ids_are_refused():
    with pytest.raises(InputError, match="optimize must be 'calls' or 'credits', got 'time'"):
        plan([], optimize="time")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"rows\[0\] has no id"):
        plan(check_rows([{"Email": "a@x.io"}], kind="upsert"))


# 50,000 rows: the plan's calls equal the minimum, computed here another way, and beat both naive ways.


def min_calls_by_dp(sizes: list[int], step: int = 500, per_call: int = 100) -> int:
    """Fewest calls: a DP over how many rows are left to Update Records, for every choice per group."""
    total = sum(sizes)
    inf = total + 1
    fewest_mass = [inf] * (total + 1)  # rows left -> fewest mass updates leaving them
    fewest_mass[0] = 0
    for g in sizes:
        layer = [inf] * (total + 1)
        for left, mass in enumerate(fewest_mass):
            if mass == inf:
                continue
            for k in range(math.ceil(g / step) + 1):
                rest = left + g - min(g, k * step)
                layer[rest] = min(layer[rest], mass + k)
        fewest_mass = layer
    return min(m + math.ceil(left / per_call) for left, m in enumerate(fewest_mass) if m != inf)


def mixed_rows() -> tuple[list[Row], list[int]]:
    """50,000 rows over 20 values, skewed as real statuses and owners are (value i about 1/(i+1) of them)."""
    pick = random.Random(20)
    weights = [1 / (i + 1) for i in range(20)]
    values = pick.choices(range(20), weights=weights, k=50_000)
    sizes = [values.count(v) for v in range(20)]
    return rows_of([{"Lead_Status": f"status {v}"} for v in values]), sizes


def test_50000_rows_of_20_values_take_the_minimum_and_beat_both_naive_ways():
    rows, sizes = mixed_rows()
    p = plan(rows)
    assert_valid(p, rows, Costs(), MassRules())
    naive_update, naive_mass = math.ceil(50_000 / 100), sum(math.ceil(g / 500) for g in sizes)
    assert len(p.calls) == min_calls_by_dp(sizes)
    assert len(p.calls) < naive_mass < naive_update


def test_50000_distinct_rows_take_the_minimum_one_update_per_100():
    rows = rows_of([{"Lead_Score": i} for i in range(50_000)])
    p = plan(rows)
    # every mass update saves one row: K of them cost K + ceil((N - K) / 100) calls
    assert len(p.calls) == min(k + math.ceil((50_000 - k) / 100) for k in range(50_001)) == 500
    assert p.summary() == {
        "mass_update_calls": 0,
        "update_calls": 500,
        "estimated_credits": 5000,
        "optimize": "calls",
    }
    assert len(p.calls) < 50_000  # a mass update per distinct value


def test_a_tie_goes_to_fewer_mass_updates():
    # 101 distinct rows: a one-id mass update plus one full call ties with two Update Records calls
    p = plan(rows_of([{"N": i} for i in range(101)]))
    assert p.summary() == {
        "mass_update_calls": 0,
        "update_calls": 2,
        "estimated_credits": 11,
        "optimize": "calls",
    }
