"""ZohoCRMHook methods against the emulator over loopback."""

from __future__ import annotations

import pytest
from airflow.sdk import BaseHook

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.testing.emulator import (
    EMPTY_VIEW_ID,
    LEADS_VIEW_ID,
    LOCKED_ID,
    NOT_APPROVED_ID,
    SEED_IDS,
    TERRITORY_ID,
)
from airflow_crm_provider.zoho.errors import ZohoRequestError

#: Headers a CRM request may carry: nothing from the connection's extras, no Basic auth.
ALLOWED_HEADERS = {
    "host",
    "user-agent",
    "accept-encoding",
    "accept",
    "connection",
    "authorization",
    "content-length",
    "content-type",
}


def test_mass_update_seed_success(crm_log, make_hook, emulator):
    entries = make_hook().mass_update("Leads", {"No_of_Employees": 1000}, list(SEED_IDS), over_write=True)
    assert [e["id"] for e in entries] == list(SEED_IDS)
    assert {(e["code"], e["status"], e["message"]) for e in entries} == {
        ("SUCCESS", "success", "record updated")
    }
    assert entries[0]["details"]["Modified_By"]["name"] == "Patricia Boyle"
    assert emulator.record("Leads", SEED_IDS[0])["No_of_Employees"] == 1000
    (post,) = crm_log()
    assert post["path"] == "/crm/v8/Leads/actions/mass_update"
    assert post["body"] == {"data": [{"No_of_Employees": 1000}], "ids": list(SEED_IDS), "over_write": True}


def test_mass_update_per_record_results_in_zoho_order(make_hook):
    ids = [LOCKED_ID, SEED_IDS[1], "999", NOT_APPROVED_ID]
    entries = make_hook().mass_update("Leads", {"City": "Oslo"}, ids)
    assert [(e["id"], e["code"]) for e in entries] == [
        (LOCKED_ID, "RECORD_LOCKED"),
        (SEED_IDS[1], "SUCCESS"),
        ("999", "INVALID_DATA"),
        (NOT_APPROVED_ID, "NOT_APPROVED"),
    ]
    assert entries[0]["details"]["action"] == "zia_vision_processing"
    assert all(isinstance(e["id"], str) for e in entries)


@pytest.mark.parametrize(("shape", "http_status"), [("seed", 200), ("documented", 400)])
@pytest.mark.parametrize(
    ("data", "ids", "code", "message"),
    [
        ({}, list(SEED_IDS), "INVALID_DATA", "No field found"),
        ({"No_of_Employees1": 1000}, list(SEED_IDS), "INVALID_DATA", "cannot be updated in the Mass Update"),
        ({"No_of_Employees": 1}, [], "MANDATORY_NOT_FOUND", "required field not found"),
    ],
)
def test_request_level_errors_in_both_shapes(
    crm_log, make_hook, emulator, shape, http_status, data, ids, code, message
):
    emulator.configure(error_shape=shape)
    with pytest.raises(ZohoRequestError) as err:
        make_hook().mass_update("Leads", data, ids)
    assert err.value.code == code
    assert message in err.value.message
    assert err.value.http_status == http_status
    assert code in str(err.value)
    assert len(crm_log()) == 1  # not retried


def test_more_than_500_ids_are_refused_before_any_http(make_hook, emulator):
    with pytest.raises(ValueError, match="at most 500"):
        make_hook().mass_update("Leads", {"City": "Oslo"}, [str(i) for i in range(501)])
    with pytest.raises(ValueError, match="module"):
        make_hook().mass_update("Leads/../users", {"City": "Oslo"}, ["1"])
    assert emulator.log() == []


def test_mass_update_by_view_and_job_status(make_hook, emulator):
    emulator.configure(job_duration=60)
    hook = make_hook()
    job_id = hook.mass_update_by_view("Leads", {"Lead_Status": "Contacted"}, LEADS_VIEW_ID)
    assert job_id.isdigit()
    status = hook.get_mass_update_status("Leads", job_id)
    assert status["job_id"] == job_id
    assert status["status"] in ("SCHEDULED", "RUNNING")
    assert status["total_count"] == 22
    with pytest.raises(ZohoRequestError) as err:
        hook.mass_update_by_view("Leads", {"Lead_Status": "Contacted"}, LEADS_VIEW_ID)
    assert (err.value.code, err.value.http_status) == ("ALREADY_SCHEDULED", 202)
    with pytest.raises(ZohoRequestError) as err:
        hook.mass_update_by_view("Leads", {"Lead_Status": "Contacted"}, EMPTY_VIEW_ID)
    assert err.value.code == "NO_RECORDS_FOUND"
    with pytest.raises(ZohoRequestError) as err:
        hook.get_mass_update_status("Leads", "123")
    assert (err.value.code, err.value.http_status) == ("NOT_FOUND", 404)


def test_mass_update_by_territory_body(crm_log, make_hook, emulator):
    job_id = make_hook().mass_update_by_view(
        "Leads",
        {"City": "Oslo"},
        LEADS_VIEW_ID,
        territory_id=TERRITORY_ID,
        include_child=True,
        over_write=True,
    )
    assert job_id
    post = crm_log()[-1]
    assert post["body"] == {
        "data": [{"City": "Oslo"}],
        "cvid": LEADS_VIEW_ID,
        "over_write": True,
        "territory": {"id": TERRITORY_ID, "include_child": True},
    }


async def test_async_status_matches_sync(crm_log, make_hook, emulator):
    emulator.configure(job_duration=60)
    hook = make_hook()
    job_id = hook.mass_update_by_view("Leads", {"City": "Oslo"}, LEADS_VIEW_ID)
    sync_status = hook.get_mass_update_status("Leads", job_id)
    fresh = make_hook()  # resolves the connection asynchronously, reuses the cached token
    async_status = await fresh.aget_mass_update_status("Leads", job_id)
    assert {k: v for k, v in async_status.items() if k != "status"} == {
        k: v for k, v in sync_status.items() if k != "status"
    }
    gets = [e for e in crm_log() if e["method"] == "GET"]
    assert gets[0]["headers"]["authorization"] == gets[1]["headers"]["authorization"]
    assert gets[1]["query"] == {"job_id": job_id}
    assert emulator.counters()["tokens_minted"] == 1


async def test_async_token_wait_leaves_the_shared_sync_thread_free(make_hook, tmp_path, monkeypatch):
    """A trigger waiting for a mint (throttle, another minter's lock) must not block other triggers."""
    import asyncio
    import threading

    from asgiref.sync import sync_to_async

    from airflow_crm_provider.zoho.auth import FileTokenCache

    job_id = make_hook().mass_update_by_view("Leads", {"City": "Oslo"}, LEADS_VIEW_ID)
    hook = make_hook(cache_dir=str(tmp_path))  # an empty cache: this hook must mint
    hold = FileTokenCache.lock
    waiting = threading.Event()

    def lock(cache: FileTokenCache):
        waiting.set()
        return hold(cache)

    monkeypatch.setattr(FileTokenCache, "lock", lock)
    with hold(FileTokenCache(hook.settings.cache_key(), str(tmp_path))):  # another minter holds it
        status = asyncio.ensure_future(hook.aget_mass_update_status("Leads", job_id))
        assert await asyncio.to_thread(waiting.wait, 30)
        # asgiref's shared thread (what thread_sensitive calls, e.g. connection lookups, run on)
        assert await asyncio.wait_for(sync_to_async(lambda: "free")(), 10) == "free"
        assert not status.done()
    assert (await status)["job_id"] == job_id


def test_get_records_chunks_at_100_and_returns_found_ids(crm_log, make_hook, emulator):
    generated = emulator.seed("Leads", count=230)
    ids = [*generated, "404"]
    records = make_hook().get_records("Leads", ids, ["City", "Lead_Status"])
    assert set(records) == set(generated)
    assert all(isinstance(k, str) for k in records)
    assert set(records[generated[0]]) == {"id", "City", "Lead_Status"}
    gets = crm_log()
    assert [len(g["query"]["ids"].split(",")) for g in gets] == [100, 100, 31]
    assert make_hook().get_records("Leads", ["1", "2"], ["City"]) == {}  # 204


@pytest.mark.parametrize(("version", "scheme"), [("v2", "Bearer"), ("v8", "Zoho-oauthtoken"), ("v2.1", None)])
def test_api_versions_and_auth_schemes(crm_log, make_hook, emulator, version, scheme):
    hook = make_hook(api_version=version, auth_scheme=scheme)
    assert hook.mass_update("Leads", {"City": "Oslo"}, [SEED_IDS[0]])[0]["code"] == "SUCCESS"
    (post,) = crm_log()
    assert post["path"] == f"/crm/{version}/Leads/actions/mass_update"
    assert post["headers"]["authorization"].startswith(f"{scheme or 'Zoho-oauthtoken'} 1000.")


def test_extras_never_become_headers_and_login_is_not_basic_auth(zoho_emulator, make_hook, emulator):
    make_hook(custom_header_like_extra="x-value", read_timeout=30)
    hook = BaseHook.get_hook("zoho_crm_default", hook_params={"method": "GET", "tcp_keep_alive": True})
    assert isinstance(hook, ZohoCRMHook)
    hook.test_connection()
    hook.get_records("Leads", [SEED_IDS[0]], ["City"])
    for entry in emulator.log():
        assert set(entry["headers"]) <= ALLOWED_HEADERS, entry["headers"]
        assert not entry["headers"].get("authorization", "").lower().startswith("basic")


def test_unknown_hook_kwargs_are_refused():
    with pytest.raises(TypeError, match="unexpected keyword"):
        ZohoCRMHook(retries=3)


def test_http_hook_run_uses_token_and_timeouts(crm_log, make_hook, emulator):
    hook = make_hook()
    hook.method = "GET"
    session = hook.get_conn()
    sent = []
    real_send = session.send
    session.send = lambda request, **kwargs: (sent.append(kwargs), real_send(request, **kwargs))[1]
    response = hook.run("users", data={"type": "CurrentUser"})
    assert response.json()["users"][0]["email"] == "patricia.boyle@example.com"
    assert (sent[0]["timeout"], sent[0]["allow_redirects"]) == ((10.0, 30.0), False)
    (get,) = crm_log()
    assert get["headers"]["authorization"].startswith("Zoho-oauthtoken 1000.")
