"""ZohoCRMHook is an HttpHook used through its public surface: adapters and transport extras, no leaks."""

from __future__ import annotations

import requests
from airflow.providers.http.hooks.http import HttpHook

from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.testing.emulator import SEED_IDS


def test_transport_extras_configure_the_session_and_never_become_headers(make_hook):
    hook = make_hook(
        verify="/etc/ssl/certs/ca-certificates.crt",
        cert="/secrets/client.pem",
        proxies={"https": "http://127.0.0.1:3128"},
        trust_env=False,
    )
    session = hook.get_conn()
    assert session.verify == "/etc/ssl/certs/ca-certificates.crt"
    assert session.cert == "/secrets/client.pem"
    assert session.proxies["https"] == "http://127.0.0.1:3128"
    assert session.trust_env is False
    sent = {k.lower() for k in session.headers}
    assert not sent & {"verify", "cert", "proxies", "refresh_token", "client_secret", "cache", "api_url"}
    assert session.auth is not None
    assert not isinstance(session.auth, requests.auth.HTTPBasicAuth)


def test_keep_alive_adapter_is_mounted_by_default_and_a_custom_adapter_replaces_it(make_hook, emulator):
    hook = make_hook()
    assert isinstance(hook, HttpHook)
    adapter = hook.get_conn().get_adapter("http://127.0.0.1")
    assert adapter is hook.keep_alive_adapter
    hook.get_records("Leads", [SEED_IDS[0]], ["City"])  # and it works over it

    custom = requests.adapters.HTTPAdapter(pool_maxsize=3)
    mine = make_hook(hook_kwargs={"adapter": custom})
    assert mine.get_conn().get_adapter("https://www.zohoapis.com") is custom
    assert mine.get_records("Leads", [SEED_IDS[0]], ["City"])


def test_http_hook_arguments_are_taken_not_swallowed(zoho_crm_conn):
    hook = ZohoCRMHook(zoho_crm_conn, method="GET", tcp_keep_alive=False)
    assert (hook.method, hook.keep_alive_adapter) == ("GET", None)
    hook.get_conn()
    assert hook.base_url.endswith("/crm/v8")
    # HttpHook's private state stays HttpHook's: the hook sets none of it
    assert (hook._base_url_initialized, hook.merged_extra) == (False, {})
