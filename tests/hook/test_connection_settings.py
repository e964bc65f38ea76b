from __future__ import annotations

import json
import sys
import types

import pytest
from airflow.sdk import Connection

from airflow_crm_provider import get_provider_info
from airflow_crm_provider.hooks._form import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
from airflow_crm_provider.zoho.settings import (
    DATA_CENTERS,
    ZohoConnectionConfigError,
    ZohoConnectionSettings,
    is_loopback,
    is_trusted_api_domain,
    validate_base_url,
)

OAUTH = {"login": "1000.CLIENT", "password": "client-secret-value"}


def settings(extra: dict | None = None, **fields) -> ZohoConnectionSettings:
    values = {**OAUTH, **fields}
    extra = {"refresh_token": "1000.refresh.token", **(extra or {})}
    conn = Connection(conn_id="zoho", conn_type="zoho_crm", extra=json.dumps(extra), **values)
    return ZohoConnectionSettings.from_connection(conn, conn.extra_dejson)


@pytest.mark.parametrize(
    ("dc", "env", "accounts", "api"),
    [
        ("us", "production", "https://accounts.zoho.com", "https://www.zohoapis.com"),
        ("eu", "sandbox", "https://accounts.zoho.eu", "https://sandbox.zohoapis.eu"),
        ("au", "developer", "https://accounts.zoho.com.au", "https://developer.zohoapis.com.au"),
        ("ca", "production", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
        ("CN", "Production", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
        ("uk", "production", "https://accounts.zoho.uk", "https://www.zohoapis.uk"),
    ],
)
def test_table_maps_data_centre_and_environment(dc, env, accounts, api):
    s = settings({"data_center": dc, "environment": env})
    assert (s.accounts_url, s.api_url, s.api_url_overridden) == (accounts, api, False)


def test_every_data_centre_has_https_urls():
    assert set(DATA_CENTERS) == {"us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk"}
    for dc in DATA_CENTERS:
        s = settings({"data_center": dc})
        assert s.accounts_url.startswith("https://accounts.")
        assert is_trusted_api_domain(s.api_url)


def test_defaults():
    s = settings()
    assert (s.data_center, s.environment, s.api_version, s.auth_scheme, s.cache) == (
        "us",
        "production",
        "v8",
        "Zoho-oauthtoken",
        "file",
    )
    assert s.timeout == (10.0, 30.0)
    assert not s.static_token


def test_overrides_and_options():
    s = settings(
        {
            "accounts_url": "http://127.0.0.1:8080/",
            "api_url": "http://localhost:9000",
            "api_version": "v2",
            "auth_scheme": "bearer",
            "cache": "memory",
            "connect_timeout": "3",
            "read_timeout": 7,
        }
    )
    assert s.accounts_url == "http://127.0.0.1:8080"
    assert s.api_url == "http://localhost:9000"
    assert s.api_url_overridden
    assert (s.api_version, s.auth_scheme, s.cache, s.timeout) == ("v2", "Bearer", "memory", (3.0, 7.0))


def test_empty_form_values_mean_default():
    s = settings({"data_center": "", "api_url": " ", "read_timeout": ""})
    assert (s.data_center, s.api_url, s.read_timeout) == ("us", "https://www.zohoapis.com", 30.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"data_center": "mars"}, "data_center must be one of"),
        ({"environment": "staging"}, "environment must be one of"),
        ({"api_url": "http://crm.example.com"}, "plain http"),
        ({"accounts_url": "ftp://accounts.zoho.com"}, "absolute https URL"),
        ({"api_url": "https://user:pw@www.zohoapis.com"}, "credentials"),
        ({"api_version": "8"}, "api_version"),
        ({"auth_scheme": "Basic"}, "auth_scheme"),
        ({"cache": "disk"}, "cache"),
        ({"read_timeout": "-1"}, "read_timeout"),
        ({"connect_timeout": "soon"}, "connect_timeout"),
    ],
)
def test_invalid_settings_are_named(extra, message):
    with pytest.raises(ZohoConnectionConfigError, match=message):
        settings(extra)


def test_missing_credentials_are_named():
    conn = Connection(conn_id="zoho", conn_type="zoho_crm", login="1000.CLIENT")
    with pytest.raises(ZohoConnectionConfigError) as err:
        ZohoConnectionSettings.from_connection(conn, {})
    assert "client secret (password)" in str(err.value)
    assert "refresh_token" in str(err.value)
    assert "client id" not in str(err.value)


def test_static_token_needs_no_client():
    conn = Connection(conn_id="zoho", conn_type="zoho_crm")
    s = ZohoConnectionSettings.from_connection(conn, {"access_token": "1000.static.token"})
    assert s.static_token
    assert s.secrets == ["1000.static.token"]


def test_repr_hides_secrets():
    s = settings({"access_token": "static-access-token", "cache": "redis://:redis-password@127.0.0.1/0"})
    text = repr(s)
    for secret in ("client-secret-value", "1000.refresh.token", "static-access-token", "redis-password"):
        assert secret not in text
        assert secret in s.secrets


def test_cache_key_is_a_hash_of_the_identity():
    a, b = settings(), settings({"refresh_token": "1000.other.token"})
    assert a.cache_key() != b.cache_key()
    assert a.cache_key() == settings({"api_version": "v2"}).cache_key()
    assert a.cache_key() != settings(password="rotated-secret").cache_key()
    assert "refresh" not in a.cache_key()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        *[("127.0.0.1", True), ("127.9.9.9", True), ("localhost", True), ("::1", True), ("[::1]", True)],
        *[("10.0.0.1", False), ("example.com", False), ("", False), (None, False)],
    ],
)
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    "url",
    [
        "htps://client:s3cret-pw@accounts.zoho.com",
        "client:s3cret-pw@accounts.zoho.com",
        "https://a:s3cret-pw@b",
    ],
)
def test_invalid_url_errors_do_not_echo_credentials(url):
    with pytest.raises(ZohoConnectionConfigError, match="accounts_url") as err:
        validate_base_url(url, "accounts_url")
    assert "s3cret-pw" not in str(err.value)


@pytest.mark.parametrize("url", ["https://accounts.zoho.com:abc", "https://accounts.zoho.com:99999"])
def test_invalid_port_is_a_config_error(url):
    with pytest.raises(ZohoConnectionConfigError, match="invalid port"):
        validate_base_url(url, "accounts_url")


def test_validate_base_url_allows_http_on_loopback_only():
    assert validate_base_url("http://[::1]:8000/zoho/", "api_url") == "http://[::1]:8000/zoho"
    with pytest.raises(ZohoConnectionConfigError, match="api_url"):
        validate_base_url("http://10.1.2.3", "api_url")


@pytest.mark.parametrize(
    ("domain", "trusted"),
    [
        ("https://www.zohoapis.com", True),
        ("https://www.zohoapis.com.au/", True),
        ("https://sandbox.zohoapis.eu", True),
        ("https://www.zohoapis.ae", True),
        ("http://www.zohoapis.com", False),
        ("https://www.zohoapis.com.evil.example", False),
        ("https://zohoapis.com@evil.example", False),
        ("https://evil-zohoapis.com", False),
        ("https://www.zohoapis.com:8443", False),
        ("https://www.zohoapis.com/path", False),
        ("https://www.zohoapis.com:abc", False),
        (None, False),
    ],
)
def test_trusted_api_domain(domain, trusted):
    assert is_trusted_api_domain(domain) is trusted


def test_api_base_uses_api_domain_only_for_production_without_override():
    assert settings().api_base("https://www.zohoapis.eu") == "https://www.zohoapis.eu"
    assert settings().api_base(None) == "https://www.zohoapis.com"
    sandbox = settings({"environment": "sandbox"})
    assert sandbox.api_base("https://www.zohoapis.com") == "https://sandbox.zohoapis.com"
    pinned = settings({"api_url": "http://127.0.0.1:1234"})
    assert pinned.api_base("https://www.zohoapis.com") == "http://127.0.0.1:1234"


@pytest.mark.parametrize(
    "domain", ["https://evil.example", "http://www.zohoapis.eu", "http://127.0.0.1:1234"]
)
def test_api_base_never_uses_an_untrusted_cached_api_domain(domain):
    # a token from a shared cache (file, Redis) carries whatever api_domain was written there
    assert settings().api_base(domain) == "https://www.zohoapis.com"


def test_provider_info_declares_the_form():
    info = get_provider_info()
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == ZohoCRMHook.conn_type == "zoho_crm"
    assert conn_type["hook-class-name"] == f"{ZohoCRMHook.__module__}.{ZohoCRMHook.__name__}"
    assert conn_type["conn-fields"] is CONN_FIELDS
    assert conn_type["ui-field-behaviour"] is UI_FIELD_BEHAVIOUR
    extras = set(CONN_FIELDS)
    assert extras == {
        "refresh_token",
        "data_center",
        "environment",
        "accounts_url",
        "api_url",
        "api_version",
        "auth_scheme",
        "access_token",
        "cache",
        "cache_dir",
        "connect_timeout",
        "read_timeout",
    }
    assert set(UI_FIELD_BEHAVIOUR["placeholders"]) <= extras | {"login", "password", "port"}
    secret_fields = {k for k, v in CONN_FIELDS.items() if v["schema"].get("format") == "password"}
    assert secret_fields == {"refresh_token", "access_token"}


def test_provider_info_matches_airflow_schema():
    jsonschema = pytest.importorskip("jsonschema")
    import airflow

    schema_path = f"{airflow.__path__[0]}/provider_info.schema.json"
    with open(schema_path) as handle:
        jsonschema.validate(get_provider_info(), json.load(handle))


def test_python_ui_field_behaviour_matches_declarative():
    behaviour = ZohoCRMHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == UI_FIELD_BEHAVIOUR["hidden-fields"]
    assert behaviour["relabeling"] == UI_FIELD_BEHAVIOUR["relabeling"]
    assert behaviour["relabeling"]["port"] == "Port (443)"
    assert behaviour["placeholders"] == UI_FIELD_BEHAVIOUR["placeholders"]


def test_form_widgets_are_built_from_conn_fields(monkeypatch):
    class Field:
        def __init__(self, label, widget=None, default=None):
            self.label, self.widget, self.default = label, widget, default

    class PasswordField(Field):
        pass

    class StringField(Field):
        pass

    fake = {
        "wtforms": types.SimpleNamespace(PasswordField=PasswordField, StringField=StringField),
        "flask_babel": types.SimpleNamespace(lazy_gettext=lambda text: text),
        "flask_appbuilder": types.ModuleType("flask_appbuilder"),
        "flask_appbuilder.fieldwidgets": types.SimpleNamespace(
            BS3PasswordFieldWidget=lambda: "password-widget", BS3TextFieldWidget=lambda: "text-widget"
        ),
    }
    for name, module in fake.items():
        monkeypatch.setitem(sys.modules, name, module)
    widgets = ZohoCRMHook.get_connection_form_widgets()
    assert set(widgets) == set(CONN_FIELDS)
    assert isinstance(widgets["refresh_token"], PasswordField)
    assert isinstance(widgets["access_token"], PasswordField)
    assert isinstance(widgets["data_center"], StringField)
    assert widgets["data_center"].default == "us"
    assert widgets["api_version"].label == "API version"
