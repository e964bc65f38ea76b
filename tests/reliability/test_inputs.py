"""
Property-based input: every invalid input is refused with a clear reason and zero requests to the
emulator, through ``AirflowFailException`` only; valid inputs are never refused.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.helpers import run_operator

REFUSED = "invalid input, nothing was sent to Zoho: "
FAST_HOOK = {"max_attempts": 1, "max_token_wait": 0.0}
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # fixed examples: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

field_names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,30}\Z")
record_ids = st.from_regex(r"\A[1-9][0-9]{0,18}\Z")
json_values = st.none() | st.booleans() | st.integers(-(10**9), 10**9) | st.text(max_size=40)
json_values |= st.floats(allow_nan=False, allow_infinity=False)

bad_id_items = (
    st.text(min_size=1, max_size=12).filter(lambda t: not t.strip().isdigit() and not t.strip().isascii())
    | st.sampled_from(["abc", "-1", "1.5", "0x10", "1e5", "12a", "١٢٣"])
    | st.floats(allow_nan=True)
    | st.booleans()
    | st.integers(max_value=-1)
    | st.lists(record_ids, min_size=1, max_size=2)
    | st.dictionaries(record_ids, record_ids, min_size=1, max_size=1)
    | st.just(None)
)
bad_field_names = (
    st.sampled_from(["", " ", "1st", "_x", "a b", "a-b", "a.b", "Lead Status", "é", "a;b"])
    | st.text(min_size=1, max_size=10).filter(lambda t: not (t[:1].isascii() and t[:1].isalpha()))
    | st.integers()
)


def _valid(ids):
    return {"ids": ids, "data": {"Lead_Status": "Contacted"}}


invalid_inputs = st.one_of(
    # ids: at least one item that is not a numeric record id, in a list or in text
    st.builds(lambda good, bad: _valid([*good, bad]), st.lists(record_ids, max_size=3), bad_id_items),
    st.builds(lambda bad: _valid(f"{bad},1234"), st.sampled_from(["abc", "-7", "1.5", "x1"])),
    st.builds(lambda bad: _valid(bad), st.sampled_from([{"1": 2}, 3.5, object()])),
    # data: not a mapping, empty, bad field names, too many fields, values JSON cannot carry
    st.builds(lambda data: {"ids": ["1234"], "data": data}, st.sampled_from([None, [], "", "text", 5, {}])),
    st.builds(lambda name, value: {"ids": ["1234"], "data": {name: value}}, bad_field_names, json_values),
    st.builds(
        lambda names: {"ids": ["1234"], "data": dict.fromkeys(names, 1)},
        st.lists(field_names, min_size=26, max_size=30, unique=True),
    ),
    st.builds(lambda: {"ids": ["1234"], "data": {"Lead_Status": object()}}),
    # module
    st.builds(
        lambda module: {**_valid(["1234"]), "module": module},
        st.sampled_from(["", " ", "1Leads", "Leads/../x", "Le ads", "Leads?x=1", None, 7]),
    ),
    # thresholds and sending settings out of range or of the wrong type
    st.builds(
        lambda name, value: {**_valid(["1234"]), name: value},
        st.sampled_from(["max_failed_records", "batch_size", "max_concurrency", "locked_retries"]),
        st.sampled_from([-1, 0.5, "3", True, None, 10**6]),
    ).filter(
        lambda kw: (
            not (
                kw.get("max_failed_records") == 10**6
                or kw.get("locked_retries") == 10**6
                or ("batch_size" in kw and kw["batch_size"] is None)  # None: the action's own limit
            )
        )
    ),
    st.builds(lambda value: {**_valid(["1234"]), "batch_size": value}, st.sampled_from([0, 501, 1000])),
    st.builds(lambda value: {**_valid(["1234"]), "max_concurrency": value}, st.sampled_from([0, 11, 50])),
    st.builds(
        lambda value: {**_valid(["1234"]), "max_skipped_ratio": value},
        st.sampled_from([-0.1, 1.5, math.nan, math.inf, "0.5", True, None]),
    ),
    st.builds(
        lambda value: {**_valid(["1234"]), "locked_retry_delay": value},
        st.sampled_from([-1, math.nan, math.inf, "5", True, None]),
    ),
    st.builds(
        lambda policy: {**_valid(["1234"]), "error_policy": policy},
        st.sampled_from([{"NOT_APPROVED": "explode"}, ["NOT_APPROVED"], {"X": 1}, "fail"]),
    ),
)


def _requests(client):
    return sum(client.counters()["requests"].values())


@PROPERTY
@given(kwargs=invalid_inputs)
def test_invalid_input_refused_before_any_request(zoho_crm_conn, zoho_emulator, kwargs):
    client = zoho_emulator.client
    sent_before = _requests(client)
    end = run_operator(hook_params=FAST_HOOK, **kwargs)

    assert end.state == "failed", (kwargs, end.error)  # AirflowFailException, no other type
    assert end.summary["reason"].startswith(REFUSED), end.summary
    assert len(end.summary["reason"]) > len(REFUSED) + 10  # it says what is wrong
    assert end.summary["outcome"] == "failed"
    assert all(r["code"] == "NOT_SENT" for r in end.records)
    assert _requests(client) == sent_before, kwargs  # nothing reached the emulator


valid_ids = st.lists(record_ids, min_size=1, max_size=5) | st.lists(
    st.integers(1, 10**18), min_size=1, max_size=5
)
valid_ids |= st.builds(
    lambda ids, sep: sep.join(ids),
    st.lists(record_ids, min_size=1, max_size=5),
    st.sampled_from([",", ", ", "\n"]),
)
valid_inputs = st.fixed_dictionaries(
    {
        "ids": valid_ids,
        "data": st.dictionaries(field_names, json_values, min_size=1, max_size=1),
    },
    optional={
        "batch_size": st.integers(1, 500),
        "max_concurrency": st.integers(1, 10),
        "max_failed_records": st.integers(0, 10**6),
        "max_skipped_ratio": st.floats(0, 1),
        "locked_retries": st.integers(0, 3),
        "error_policy": st.dictionaries(
            st.sampled_from(["NOT_APPROVED", "RECORD_LOCKED", "INVALID_DATA"]),
            st.sampled_from(["fail", "soft", "retry", "ignore"]),
            max_size=2,
        ),
    },
)


@settings(PROPERTY, max_examples=30)
@given(kwargs=valid_inputs)
def test_valid_input_never_refused(zoho_crm_conn, zoho_emulator, kwargs):
    end = run_operator(hook_params=FAST_HOOK, locked_retry_delay=0, **kwargs)

    assert not end.summary.get("reason", "").startswith(REFUSED), (kwargs, end.summary)
    # a request-level code the user classed as retry ends the try for Airflow's retries
    retry_classed = "retry" in kwargs.get("error_policy", {}).values()
    assert end.state in ("success", "skipped", "failed") or (retry_classed and end.state == "up_for_retry"), (
        kwargs,
        end.error,
    )
    assert len(end.records) >= 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"Annual_Revenue": math.nan}},
        {"data": {"Annual_Revenue": math.inf}},
        {"ids": "[" * 5_000 + "]" * 5_000},
        {"data": '{"a":' * 5_000 + "1" + "}" * 5_000},
        {"ids": [10**5_000]},
        {"ids": b"\xff\xfe1234"},
        {"error_policy": {"": "fail"}},  # found by this suite
    ],
    ids=["nan", "inf", "nested-ids", "nested-data", "huge-int", "bad-bytes", "empty-policy-code"],
)
def test_inputs_that_once_escaped_are_refused(zoho_crm_conn, zoho_emulator, kwargs):
    client = zoho_emulator.client
    sent_before = _requests(client)
    end = run_operator(**{**_valid(["738964000002131001"]), "hook_params": FAST_HOOK, **kwargs})

    assert end.state == "failed", end.error
    assert end.summary["reason"].startswith(REFUSED), end.summary
    assert _requests(client) == sent_before


def test_field_name_with_a_trailing_newline_is_refused(zoho_crm_conn, zoho_emulator):
    """``$`` would match before a final newline; such a name must be refused, not sent."""
    client = zoho_emulator.client
    end = run_operator(ids=["738964000002131001"], data={"Lead_Status\n": "x"}, hook_params=FAST_HOOK)

    assert end.state == "failed"
    assert end.summary["reason"].startswith(REFUSED)
    assert "Lead_Status" in end.summary["reason"]
    assert _requests(client) == 0
