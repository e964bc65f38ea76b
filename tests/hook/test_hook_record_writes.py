"""ZohoCRMHook.update_records and .upsert against the emulator: bodies, parsing of 200/207/400, retries."""

from __future__ import annotations

import pytest

from airflow_crm_provider.testing.emulator import LOCKED_ID, NOT_APPROVED_ID, SEED_IDS
from airflow_crm_provider.zoho.errors import (
    ZohoAuthError,
    ZohoConnectionError,
    ZohoRateLimitError,
    ZohoRequestError,
)
from airflow_crm_provider.zoho.record_writes import parse_update_records, parse_upsert

UNKNOWN_ID = "738964999999999999"


@pytest.fixture
def hook(make_hook):
    hook = make_hook()
    hook.test_connection()  # mint first, so the counts below are CRM requests only
    hook.sleeps = []
    hook._sleep = hook.sleeps.append  # record the waits instead of sleeping
    return hook


def test_update_records_sends_a_value_per_record(hook, emulator, crm_log):
    rows = [
        {"id": SEED_IDS[0], "City": "Oslo"},
        {"id": int(SEED_IDS[1]), "City": "Lyon", "No_of_Employees": 7},
    ]
    entries = hook.update_records("Leads", rows)
    assert [(e["id"], e["code"], e["status"]) for e in entries] == [
        (SEED_IDS[0], "SUCCESS", "success"),
        (SEED_IDS[1], "SUCCESS", "success"),
    ]
    assert entries[0]["details"]["Modified_By"]["name"] == "Patricia Boyle"
    records = emulator.records()
    assert (records[SEED_IDS[0]]["City"], records[SEED_IDS[1]]["City"]) == ("Oslo", "Lyon")
    (put,) = [e for e in crm_log() if e["method"] == "PUT"]
    assert put["path"] == "/crm/v8/Leads"
    # ids go as strings; no trigger key: Zoho's automation runs by default
    assert put["body"] == {
        "data": [
            {"id": SEED_IDS[0], "City": "Oslo"},
            {"id": SEED_IDS[1], "City": "Lyon", "No_of_Employees": 7},
        ]
    }
    assert put["headers"]["authorization"].startswith("Zoho-oauthtoken ")
    assert emulator.counters()["triggers_fired"]["workflow"] == 2


@pytest.mark.parametrize("partial_status", [207, 200])
def test_a_partial_failure_parses_under_207_and_200(hook, emulator, crm_log, partial_status):
    emulator.configure(partial_status=partial_status)
    rows = [
        {"id": NOT_APPROVED_ID, "City": "Oslo"},
        {"id": SEED_IDS[0], "City": "Oslo"},
        {"id": UNKNOWN_ID, "City": "Oslo"},
        {"id": LOCKED_ID, "City": "Oslo"},
        {"id": SEED_IDS[1], "No_of_Employees": "many"},
    ]
    entries = hook.update_records("Leads", rows, trigger=["workflow"])
    assert [(e["id"], e["code"]) for e in entries] == [
        (NOT_APPROVED_ID, "NOT_APPROVED"),
        (SEED_IDS[0], "SUCCESS"),
        (UNKNOWN_ID, "INVALID_DATA"),  # Zoho gives no id here: the row's, by position
        (LOCKED_ID, "RECORD_LOCKED"),
        (SEED_IDS[1], "INVALID_DATA"),
    ]
    assert entries[4]["details"]["json_path"] == "$.data[4].No_of_Employees"
    (put,) = [e for e in crm_log() if e["method"] == "PUT"]
    assert (put["status"], put["body"]["trigger"]) == (partial_status, ["workflow"])
    assert hook.sleeps == []  # per-record codes are not retried by the hook


def test_all_records_failing_parse_from_a_400(hook, emulator):
    rows = [{"id": UNKNOWN_ID, "City": "Oslo"}, {"id": NOT_APPROVED_ID, "City": "Oslo"}]
    entries = hook.update_records("Leads", rows)
    assert [(e["id"], e["code"]) for e in entries] == [
        (UNKNOWN_ID, "INVALID_DATA"),
        (NOT_APPROVED_ID, "NOT_APPROVED"),
    ]
    assert [e["status"] for e in emulator.log()[-1:]] == [400]


def test_request_level_errors_raise(hook, emulator):
    emulator.refuse("NO_PERMISSION", operation="update", times=1)
    with pytest.raises(ZohoRequestError) as err:
        hook.update_records("Leads", [{"id": SEED_IDS[0], "City": "Oslo"}])
    assert (err.value.code, err.value.http_status) == ("NO_PERMISSION", 403)
    emulator.refuse("OAUTH_SCOPE_MISMATCH", operation="upsert", times=1)
    with pytest.raises(ZohoAuthError):
        hook.upsert("Leads", [{"id": SEED_IDS[0], "City": "Oslo"}], ["Email"])
    with pytest.raises(ZohoRequestError) as err:
        hook.update_records("Leadz", [{"id": SEED_IDS[0], "City": "Oslo"}])
    assert err.value.code == "INVALID_MODULE"


def test_entries_that_do_not_match_the_rows_are_a_request_error():
    two = {"data": [{"code": "SUCCESS", "status": "success"}] * 2}
    with pytest.raises(ZohoRequestError, match="Zoho answered 2 data"):
        parse_update_records([SEED_IDS[0]], two, 200)
    one_error = {
        "data": [{"code": "INVALID_DATA", "details": {}, "message": "invalid data", "status": "error"}]
    }
    with pytest.raises(ZohoRequestError) as err:  # the seed's shape: one id-less entry for the request
        parse_upsert([None, None], one_error, 200)
    assert err.value.code == "INVALID_DATA"


@pytest.mark.parametrize(
    ("fault", "counter"),
    [
        ("burst_429", "answered_429"),
        ("burst_5xx", "answered_5xx"),
        ("drop_connections", "dropped_connections"),
    ],
)
def test_transient_failures_are_retried(hook, emulator, fault, counter):
    emulator.configure(**{fault: 2})
    entries = hook.update_records("Leads", [{"id": SEED_IDS[0], "City": "Porto"}])
    assert entries[0]["code"] == "SUCCESS"
    counters = emulator.counters()
    assert (counters["update_puts"], counters[counter]) == (3, 2)
    assert len(hook.sleeps) == 2


def test_retries_are_bounded(hook, emulator):
    emulator.configure(burst_429=10)
    with pytest.raises(ZohoRateLimitError):
        hook.update_records("Leads", [{"id": SEED_IDS[0], "City": "Porto"}])
    assert emulator.counters()["update_puts"] == 4  # max_attempts


def test_an_expired_token_is_refreshed_and_the_call_replayed(hook, emulator):
    emulator.expire_tokens()
    entries = hook.upsert("Leads", [{"id": SEED_IDS[0], "City": "Porto"}], ["Email"])
    assert entries[0]["code"] == "SUCCESS"
    assert emulator.counters()["tokens_minted"] == 2


def test_upsert_inserts_and_matches(hook, emulator, crm_log):
    email = emulator.record("Leads", SEED_IDS[1])["Email"]
    rows = [
        {"Last_Name": "Okafor", "Email": email, "City": "Oslo"},
        {"Last_Name": "Nakamura", "Email": "nakamura@example.com"},
        {"Email": "nameless@example.com"},
    ]
    entries = hook.upsert("Leads", rows, ["Email"], trigger=[])
    matched, inserted, refused = entries
    assert (matched["action"], matched["duplicate_field"], matched["id"]) == ("update", "Email", SEED_IDS[1])
    assert (inserted["action"], inserted["duplicate_field"], inserted["code"]) == ("insert", None, "SUCCESS")
    assert emulator.record("Leads", inserted["id"])["Last_Name"] == "Nakamura"
    assert (refused["code"], refused["id"], refused["action"]) == ("MANDATORY_NOT_FOUND", None, None)
    (post,) = [e for e in crm_log() if e["method"] == "POST"]
    assert post["path"] == "/crm/v8/Leads/upsert"
    assert (post["body"]["duplicate_check_fields"], post["body"]["trigger"]) == (["Email"], [])
    assert emulator.counters()["triggers_fired"] == {}


def test_a_lost_upsert_is_resent_only_when_it_can_match(hook, emulator):
    emulator.configure(lose_replies=1)
    entries = hook.upsert("Leads", [{"Last_Name": "Rossi", "Email": "rossi@example.com"}], ["Email"])
    # the first send inserted; the re-send matched that record on Email instead of inserting again
    assert (entries[0]["action"], entries[0]["duplicate_field"]) == ("update", "Email")
    assert emulator.counters()["records_inserted"] == 1
    emulator.configure(lose_replies=1)
    with pytest.raises(ZohoConnectionError, match="not re-sent") as err:
        hook.upsert("Leads", [{"Last_Name": "Silva"}], ["Email"])  # nothing to match a re-send on
    assert err.value.maybe_delivered
    assert emulator.counters()["records_inserted"] == 2


def test_a_lost_update_is_resent_and_applied_once_in_state(hook, emulator):
    emulator.configure(lose_replies=1)
    entries = hook.update_records("Leads", [{"id": SEED_IDS[0], "City": "Porto"}])
    assert entries[0]["code"] == "SUCCESS"
    assert emulator.counters()["update_puts"] == 2
    assert emulator.record("Leads", SEED_IDS[0])["City"] == "Porto"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda h: h.update_records("Leads", []), "non-empty list"),
        (lambda h: h.update_records("Leads", {"id": SEED_IDS[0]}), "non-empty list"),
        (lambda h: h.update_records("Leads", [{"City": "Oslo"}]), r"rows\[0\] has no id"),
        (lambda h: h.update_records("Leads", [{"id": True}]), "not a Zoho record id"),
        (lambda h: h.update_records("Leads", [{"id": "12 OR 1"}]), "not a Zoho record id"),
        (lambda h: h.update_records("Leads", ["x"]), r"rows\[0\] must be a mapping"),
        (lambda h: h.update_records("Leads", [{"id": SEED_IDS[0], "City name": "x"}]), "not field API names"),
        (lambda h: h.update_records("Leads", [{"id": SEED_IDS[0]}] * 101), "at most 100"),
        (lambda h: h.update_records("Leads", [{"id": SEED_IDS[0]}], trigger="workflow"), "not a string"),
        (lambda h: h.update_records("Leads", [{"id": SEED_IDS[0]}], trigger=["cadences"]), "unknown entries"),
        (lambda h: h.update_records("Leads/x", [{"id": SEED_IDS[0]}]), "Leads/x"),
        (lambda h: h.upsert("Leads", [{"Last_Name": "x"}], []), "duplicate_check_fields"),
        (lambda h: h.upsert("Leads", [{"Last_Name": "x"}], "Email"), "duplicate_check_fields"),
        (lambda h: h.upsert("Leads", [{"Last_Name": "x"}], ["E mail"]), "not field API names"),
    ],
)
def test_bad_input_is_refused_before_any_call(hook, emulator, crm_log, call, match):
    before = len(crm_log())
    with pytest.raises(ValueError, match=match):
        call(hook)
    assert len(crm_log()) == before
