from __future__ import annotations

import pytest

from airflow_crm_provider.runs.inputs import InputError, check_module, parse_data, parse_ids
from airflow_crm_provider.runs.policy import check_int, check_ratio
from airflow_crm_provider.zoho.settings import seconds

BIG = "1306462000000496025"  # > 2**53: must stay exact


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["738964000002131001", "738964000002130131"], ["738964000002131001", "738964000002130131"]),
        ([738964000002131001, "738964000002130131"], ["738964000002131001", "738964000002130131"]),
        ((int(BIG),), [BIG]),
        (int(BIG), [BIG]),
        (BIG, [BIG]),
        (f'["{BIG}", "2"]', [BIG, "2"]),
        (f"[{BIG}, 2]", [BIG, "2"]),
        (f"['{BIG}', '2']", [BIG, "2"]),
        (f"('{BIG}', '2')", [BIG, "2"]),
        (f"{BIG}, 2 ,3", [BIG, "2", "3"]),
        (f"{BIG}\n2\r\n3\n", [BIG, "2", "3"]),
        (f" {BIG} ", [BIG]),
        (iter(["1", "2"]), ["1", "2"]),
        (b"1,2", ["1", "2"]),
    ],
)
def test_parse_ids_accepts_every_form_and_keeps_strings(value, expected):
    assert parse_ids(value).ids == expected


@pytest.mark.parametrize("value", [None, "", "  ", "None", "null", "[]", [], (), "\n"])
def test_parse_ids_empty_forms(value):
    parsed = parse_ids(value)
    assert parsed.ids == []
    assert parsed.duplicates == []


def test_parse_ids_drops_duplicates_keeping_first_order():
    parsed = parse_ids(["3", "1", "3", 1, "2", "3"])
    assert parsed.ids == ["3", "1", "2"]
    assert parsed.duplicates == ["3", "1"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (["1", "abc", "2"], "'abc'"),
        (["1", 2.0], "2.0"),
        (["1", True], "True"),
        (["-5"], "'-5'"),
        (["1e5"], "'1e5'"),
        ([["1", "2"]], "['1', '2']"),
        ([None], "None"),
        ("1, x2, 3", "'x2'"),
    ],
)
def test_parse_ids_rejects_non_numeric_naming_offenders(value, shown):
    with pytest.raises(InputError, match="numeric Zoho record ids") as err:
        parse_ids(value)
    assert shown in str(err.value)


def test_parse_ids_names_only_the_first_few_offenders():
    with pytest.raises(InputError) as err:
        parse_ids([f"bad{i}" for i in range(12)])
    text = str(err.value)
    assert "12 are not" in text
    assert "'bad4'" in text
    assert "'bad5'" not in text
    assert "and 7 more" in text


@pytest.mark.parametrize("value", [{"a": 1}, 1.5, object()])
def test_parse_ids_rejects_other_types(value):
    with pytest.raises(InputError, match="ids"):
        parse_ids(value)


def test_parse_ids_rejects_broken_list_text():
    with pytest.raises(InputError, match="neither JSON nor a Python literal"):
        parse_ids("['1', '2'")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"No_of_Employees": 1000}, {"No_of_Employees": 1000}),
        ('{"Lead_Status": "Contacted"}', {"Lead_Status": "Contacted"}),
        ("{'Lead_Status': 'Contacted'}", {"Lead_Status": "Contacted"}),
        ({"Product_Interest": ["A", "B"]}, {"Product_Interest": ["A", "B"]}),
        ({"City": None}, {"City": None}),
    ],
)
def test_parse_data_accepts_mappings_and_mapping_text(value, expected):
    assert parse_data(value) == expected


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({}, "data is empty"),
        ("{}", "data is empty"),
        (None, "got NoneType"),
        ([{"City": "x"}], "got list"),
        ("City=Paris", "got text"),
        ({"No field": 1}, "field API names"),
        ({1: 1}, "field API names"),
        ({"A": 1, "B": 2, "C": 3, "D": 4}, "at most 3"),
        ({"City": object()}, "Zoho takes text, numbers, booleans, lists and lookups only"),
    ],
)
def test_parse_data_rejects_bad_data(value, match):
    with pytest.raises(InputError, match=match):
        parse_data(value)


def test_checks():
    assert check_module(" Leads ") == "Leads"
    assert check_int("batch_size", 500, 1, 500) == 500
    assert check_ratio("r", 0) == 0.0
    assert seconds(0, "s", zero_ok=True, error=InputError) == 0.0
    for bad in ("", "Le ads", None, "../x"):
        with pytest.raises(InputError, match="module"):
            check_module(bad)
    for bad in (0, 501, True, 2.0, "5"):
        with pytest.raises(InputError, match="batch_size must be an integer between 1 and 500"):
            check_int("batch_size", bad, 1, 500)
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(InputError, match="between 0 and 1"):
            check_ratio("max_skipped_ratio", bad)
    with pytest.raises(InputError, match="non-negative"):
        seconds(-1, "locked_retry_delay", zero_ok=True, error=InputError)
