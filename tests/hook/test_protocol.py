"""Reply parsing and retry policy (pure functions shared by the sync and async paths)."""

from __future__ import annotations

import email.utils
import json
import time

import pytest

from airflow_crm_provider.zoho import api as protocol
from airflow_crm_provider.zoho.errors import (
    ZohoAuthError,
    ZohoRateLimitError,
    ZohoRequestError,
    ZohoServerError,
)
from airflow_crm_provider.zoho.http import Reply
from airflow_crm_provider.zoho.retries import Retries
from airflow_crm_provider.zoho.settings import DEFAULT_READ_TIMEOUT


def reply(body, status=200, headers=None) -> Reply:
    text = body if isinstance(body, str) else json.dumps(body)
    return Reply(status, headers or {}, text)


def error(code, message="m", details=None):
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


@pytest.mark.parametrize(
    ("r", "exc", "code"),
    [
        (reply(error("INVALID_REQUEST_METHOD"), 400), ZohoRequestError, "INVALID_REQUEST_METHOD"),
        (reply(error("AUTHENTICATION_FAILURE"), 401), protocol.TokenRejected, "AUTHENTICATION_FAILURE"),
        (reply(error("INVALID_TOKEN"), 401), protocol.TokenRejected, "INVALID_TOKEN"),
        (reply(error("INVALID_OAUTHTOKEN"), 401), protocol.TokenRejected, "INVALID_OAUTHTOKEN"),
        (reply("", 401), protocol.TokenRejected, None),
        (reply(error("OAUTH_SCOPE_MISMATCH"), 401), ZohoAuthError, "OAUTH_SCOPE_MISMATCH"),
        (reply(error("NO_PERMISSION"), 403), ZohoRequestError, "NO_PERMISSION"),
        (reply(error("TOO_MANY_REQUESTS"), 429), ZohoRateLimitError, "TOO_MANY_REQUESTS"),
        (
            reply({"code": 429, "error": "TOO_MANY_REQUESTS", "error_info": "x"}, 429),
            ZohoRateLimitError,
            None,
        ),
        (reply("<html>busy</html>", 429), ZohoRateLimitError, None),
        (reply(error("INTERNAL_ERROR"), 500), ZohoServerError, "INTERNAL_ERROR"),
        (reply("bad gateway", 502), ZohoServerError, None),
        (reply(error("ALREADY_SCHEDULED"), 202), ZohoRequestError, "ALREADY_SCHEDULED"),
        (reply("<html>", 200), ZohoRequestError, None),
        (reply("", 302), ZohoRequestError, None),
    ],
)
def test_check_reply_raises_typed_errors(r, exc, code):
    with pytest.raises(exc) as err:
        protocol.check_reply(r)
    assert err.type is exc
    if code:
        assert err.value.code == code
    assert err.value.http_status == r.status


def test_legacy_429_shape_keeps_its_code():
    with pytest.raises(ZohoRateLimitError) as err:
        protocol.check_reply(reply({"code": 429, "error": "TOO_MANY_REQUESTS", "error_info": "limit"}, 429))
    assert err.value.code == "TOO_MANY_REQUESTS"
    assert err.value.message == "limit"


def test_check_reply_passes_bodies_and_204():
    assert protocol.check_reply(reply({"data": [{"code": "SUCCESS"}]})) == {"data": [{"code": "SUCCESS"}]}
    assert protocol.check_reply(Reply(204, {}, "")) is None
    assert protocol.check_reply(reply({"code": "SUCCESS", "status": "success"})) == {
        "code": "SUCCESS",
        "status": "success",
    }


def test_retry_after_header():
    assert reply("", 429, {"retry-after": "7"}).retry_after() == 7
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < reply("", 429, {"retry-after": date}).retry_after() <= 30
    assert reply("", 429, {"retry-after": "soon"}).retry_after() is None
    assert reply("", 429).retry_after() is None
    with pytest.raises(ZohoRateLimitError) as err:
        protocol.check_reply(reply(error("TOO_MANY_REQUESTS"), 429, {"retry-after": "3"}))
    assert err.value.retry_after == 3


SUCCESS = {
    "code": "SUCCESS",
    "details": {"id": 738964000002131001, "Modified_Time": "2021-05-12T07:26:48+00:00"},
    "message": "record updated",
    "status": "success",
}


def test_parse_mass_update_entries_keep_order_and_string_ids():
    locked = error(
        "RECORD_LOCKED", "cannot update", {"action": "zia_vision_processing", "id": "475243000003269880"}
    )
    entries = protocol.parse_mass_update({"data": [SUCCESS, locked]}, 200)
    assert [e["id"] for e in entries] == ["738964000002131001", "475243000003269880"]
    assert [e["code"] for e in entries] == ["SUCCESS", "RECORD_LOCKED"]
    assert entries[1]["details"]["action"] == "zia_vision_processing"


def test_parse_mass_update_keeps_what_entries_repeat_once():
    def updated(record_id, created):
        return (
            '{"code":"SUCCESS","status":"success","message":"record updated","details":{'
            '"Modified_Time":"2026-01-01T00:00:00+00:00","Modified_By":{"name":"Patricia Boyle","id":"7389"},'
            f'"Created_Time":"{created}","id":"{record_id}"}}}}'
        )

    body = json.loads('{"data":[' + updated("1", "2021-05-07T06:23:10+00:00") + ","
                      + updated("2", "2022-01-01T00:00:00+00:00") + "]}")  # fmt: skip
    first, second = protocol.parse_mass_update(body, 200)
    for key in ("status", "code", "message"):
        assert first[key] is second[key]
    assert first["details"]["Modified_Time"] is second["details"]["Modified_Time"]
    assert first["details"]["Modified_By"]["name"] is second["details"]["Modified_By"]["name"]
    assert first["details"]["Modified_By"]["id"] is second["details"]["Modified_By"]["id"]
    assert first["details"] == {
        "Modified_Time": "2026-01-01T00:00:00+00:00",
        "Modified_By": {"name": "Patricia Boyle", "id": "7389"},
        "Created_Time": "2021-05-07T06:23:10+00:00",
        "id": "1",
    }
    assert second["details"]["Created_Time"] == "2022-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("entry", "exc"),
    [
        (error("INVALID_DATA", "No field found"), ZohoRequestError),
        (error("MANDATORY_NOT_FOUND", "required field not found"), ZohoRequestError),
        (error("OAUTH_SCOPE_MISMATCH"), ZohoAuthError),
    ],
)
def test_entry_without_record_id_is_request_level(entry, exc):
    with pytest.raises(exc) as err:
        protocol.parse_mass_update({"data": [entry]}, 200)
    assert err.value.code == entry["code"]
    assert err.value.message == entry["message"]
    assert err.value.http_status == 200


def test_parse_job_id_and_status():
    scheduled = {"code": "SUCCESS", "details": {"job_id": 738964000005000001}, "status": "success"}
    assert protocol.parse_job_id({"data": [scheduled]}, 200) == "738964000005000001"
    with pytest.raises(ZohoRequestError) as err:
        protocol.parse_job_id({"data": [error("NO_RECORDS_FOUND")]}, 200)
    assert err.value.code == "NO_RECORDS_FOUND"
    status = protocol.parse_job_status(
        "9",
        {"data": [{"Status": "Running", "Total_Count": 50, "Updated_Count": 30, "Not_Updated_Count": 20}]},
        200,
    )
    assert status == {
        "job_id": "9",
        "status": "RUNNING",
        "total_count": 50,
        "updated_count": 30,
        "failed_count": 0,
        "not_updated_count": 20,
    }
    with pytest.raises(ZohoRequestError, match="no data"):
        protocol.parse_job_status("9", {"info": {}}, 200)


def test_parse_records():
    body = {"data": [{"id": 1, "City": "Oslo"}, {"id": "2"}], "info": {}}
    assert protocol.parse_records(body, 200) == {"1": {"id": 1, "City": "Oslo"}, "2": {"id": "2"}}
    assert protocol.parse_records(None, 204) == {}


def test_retry_policy_bounds():
    policy = Retries(max_attempts=4, max_wait=40, backoff_base=1)
    delays = [policy.next_delay(n, 0) for n in (1, 2, 3)]
    assert 0.5 <= delays[0] <= 1
    assert 1 <= delays[1] <= 2
    assert 2 <= delays[2] <= 4
    assert policy.next_delay(4, 0) is None  # attempts
    assert policy.next_delay(1, 39.6) is None  # total time
    assert policy.next_delay(1, 0, retry_after=25) == 25  # Retry-After honoured
    assert policy.next_delay(1, 0, retry_after=41) is None  # longer than the budget
    assert Retries(max_attempts=20, max_wait=40).next_delay(10, 0) <= 5  # backoff capped at 1/8 of the budget


def test_default_budget_rides_out_a_minute_of_outage():
    """Refused connections for a minute, or hung calls of the default read timeout, fit in the budget."""
    policy = Retries()
    assert policy.max_wait >= 3 * DEFAULT_READ_TIMEOUT + 10  # three hung attempts, and their waits
    waited, attempts = 0.0, 1
    while (delay := policy.next_delay(attempts, waited)) is not None:
        waited, attempts = waited + delay, attempts + 1
    assert waited >= 60, (waited, attempts)  # even with every delay jittered low
    with pytest.raises(ValueError, match="max_attempts"):
        Retries(max_attempts=0)
