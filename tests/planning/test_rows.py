"""``rows`` of Update Records and Upsert: normalised when usable, else refused naming the row and why."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_crm_provider.runs import rows as rows_module
from airflow_crm_provider.runs.inputs import InputError
from airflow_crm_provider.runs.rows import Row, check_rows, requested_rows, value_key

BIG_ID = 3652397000003852095  # 19 digits, more than 2^53: a float would lose its last digits


def refused(value, **kwargs) -> str:
    with pytest.raises(InputError) as err:
        check_rows(value, **kwargs)
    return str(err.value)


def test_rows_are_normalised_in_input_order():
    rows = check_rows(
        [
            {"id": BIG_ID, "Lead_Score": 42},
            {"Lead_Status": "Contacted", "id": " 554023000000497007 "},
            {"id": "1", "Tags": ["a", "b"], "Owner": {"id": "2"}, "Note": None},
        ]
    )
    assert rows == [
        Row(0, str(BIG_ID), {"Lead_Score": 42}),
        Row(1, "554023000000497007", {"Lead_Status": "Contacted"}),
        Row(2, "1", {"Tags": ["a", "b"], "Owner": {"id": "2"}, "Note": None}),
    ]
    assert rows[1].record() == {"id": "554023000000497007", "Lead_Status": "Contacted"}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps([{"id": BIG_ID, "Lead_Score": 1.5}]),
        str([{"id": str(BIG_ID), "Lead_Score": 1.5}]),  # what Jinja renders from an XCom list
        f"  ({{'id': {BIG_ID}, 'Lead_Score': 1.5}},)  ",
    ],
)
def test_templated_text_is_read_without_losing_digits(text):
    assert check_rows(text) == [Row(0, str(BIG_ID), {"Lead_Score": 1.5})]


@pytest.mark.parametrize("empty", [None, "", "  ", "[]", "None", "null", [], ()])
def test_no_rows_is_an_empty_list(empty):
    assert check_rows(empty) == []


def test_a_generator_of_rows_is_taken():
    assert [r.id for r in check_rows({"id": str(i), "X": i} for i in range(3))] == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"id": "1", "X": 1}, "got a single mapping: wrap it in a list"),
        ("id=1", "rows must be a list of mappings"),
        (42, "got int"),
        ("[{'id': 1, 'X': nan}]", "neither JSON nor a Python literal"),
        (b"\xff[]", "rows is bytes that are not UTF-8"),
    ],
)
def test_what_is_not_a_list_of_rows_is_refused(value, message):
    assert message in refused(value)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1,X", "rows[0] is str, not a mapping"),
        ({}, "rows[0] is empty"),
        ({"id": "1"}, "rows[0] has only an id: there is no field to set"),
        ({"X": 1}, "rows[0] has no 'id': Update Records needs the record id"),
        ({"id": 7.38964e17, "X": 1}, "rows[0]['id'] is a float (7.38964e+17); record ids exceed 2^53"),
        ({"id": "12a", "X": 1}, "rows[0]['id'] is not a numeric Zoho record id: '12a'"),
        ({"id": True, "X": 1}, "rows[0]['id'] is not a numeric Zoho record id: True"),
        ({"id": -5, "X": 1}, "rows[0]['id'] is not a numeric Zoho record id: -5"),
        ({"id": "1", "Lead Status": 1}, "rows[0] has a key that is not a Zoho field API name: 'Lead Status'"),
        ({"id": "1", 3: 1}, "rows[0] has a key that is not a Zoho field API name: 3"),
        ({"id": "1", "X": math.nan}, "rows[0]['X'] is nan: a field value must be a finite number"),
        ({"id": "1", "X": -math.inf}, "rows[0]['X'] is -inf"),
        ({"id": "1", "X": [[1]]}, "rows[0]['X'] is nested deeper than a list or a lookup object"),
        ({"id": "1", "X": {"id": {"id": 1}}}, "rows[0]['X.id'] is nested deeper"),
        ({"id": "1", "X": {1: 2}}, "rows[0]['X'] has a key that is not text"),
        ({"id": "1", "X": "y" * 32_001}, "rows[0]['X'] is 32001 characters"),
        ({"id": "1", "X": 10**40}, "rows[0]['X'] is an integer of more than 32 digits"),
        ({"id": "1", "X": {1, 2}}, "rows[0]['X'] is of type set"),
    ],
)
def test_a_bad_row_is_named_with_its_problem(row, message):
    assert message in refused([row])


def test_the_first_bad_rows_are_all_named_and_the_rest_counted():
    rows = [{"id": str(i), "X": 1} for i in range(20)]
    for i in (3, 5, 8, 9, 11, 12, 19):
        rows[i] = {"id": str(i)}
    message = refused(rows)
    assert message.startswith("7 of 20 rows are not usable: rows[3] has only an id")
    assert "rows[11]" in message
    assert "rows[12]" not in message
    assert message.endswith("; and 2 more")


def test_repeated_ids_are_refused_naming_them_and_their_rows():
    rows = [
        {"id": "5", "X": 1},
        {"id": 6, "X": 1},
        {"id": 5, "X": 2},
        {"id": " 6", "Y": 1},
        {"id": "5", "X": 1},
    ]
    message = refused(rows)
    assert "rows give the same record id twice" in message
    assert "5 (rows 0, 2, 4)" in message
    assert "6 (rows 1, 3)" in message


def test_upsert_rows_need_no_id_but_an_id_given_is_checked():
    rows = check_rows([{"Email": "a@x.io", "Last_Name": "A"}, {"id": 9, "Last_Name": "B"}], kind="upsert")
    assert rows == [Row(0, None, {"Email": "a@x.io", "Last_Name": "A"}), Row(1, "9", {"Last_Name": "B"})]
    assert rows[0].record() == {"Email": "a@x.io", "Last_Name": "A"}
    assert "rows[0]['id'] is a float" in refused([{"id": 1.0, "X": 1}], kind="upsert")
    assert "rows[0] is empty" in refused([{}], kind="upsert")
    assert "rows give the same record id twice" in refused(
        [{"id": 1, "X": 1}, {"id": 1, "X": 2}], kind="upsert"
    )


def test_too_many_rows_are_refused_without_reading_them_all(monkeypatch):
    monkeypatch.setattr(rows_module, "MAX_ROWS", 50)

    def endless():
        i = 0
        while True:
            yield {"id": str(i), "X": 1}
            i += 1

    assert "rows has more than 50 rows; split the work across tasks" in refused(endless())


def test_requested_rows_keeps_one_entry_per_row_even_when_refused():
    value = [{"id": 5, "X": math.nan}, "junk", {"id": " 7 ", "X": 1}, {"X": 1}, {"id": 1.5}]
    assert requested_rows(value) == ["5", "", "7", "", ""]
    assert requested_rows("not rows") == []


def test_value_key_ignores_field_order_but_not_json_types():
    assert value_key({"A": 1, "B": "x"}) == value_key({"B": "x", "A": 1})
    assert len({value_key({"A": v}) for v in (1, 1.0, True, "1")}) == 4


json_values = st.none() | st.booleans() | st.integers(-(10**18), 10**18) | st.text(max_size=20)
json_values |= st.floats(allow_nan=False, allow_infinity=False)
field_values = json_values | st.lists(json_values, max_size=3)
field_names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,20}\Z").filter(lambda n: n != "id")


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**19), st.dictionaries(field_names, field_values, min_size=1, max_size=4)),
        max_size=20,
        unique_by=lambda row: row[0],
    )
)
def test_valid_rows_survive_a_json_round_trip_unchanged(rows):
    given_rows = [{"id": record_id, **values} for record_id, values in rows]
    checked = check_rows(json.dumps(given_rows))
    assert [(r.id, r.values) for r in checked] == [(str(i), json.loads(json.dumps(v))) for i, v in rows]
