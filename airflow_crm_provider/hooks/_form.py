"""The ``zoho_crm`` connection form: extra fields (``conn-fields``) and field behaviour, from one table."""

from __future__ import annotations

from typing import Any

from airflow_crm_provider.zoho.settings import (
    AUTH_SCHEMES,
    DATA_CENTERS,
    DEFAULT_API_VERSION,
    DEFAULT_AUTH_SCHEME,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DATA_CENTER,
    DEFAULT_ENVIRONMENT,
    DEFAULT_READ_TIMEOUT,
    ENVIRONMENTS,
)


def _string(
    label: str, description: str, *, enum: Any = None, default: Any = None, secret: bool = False
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if enum is not None:
        schema["enum"] = list(enum)
    if default is not None:
        schema["default"] = default
    if secret:
        schema["format"] = "password"
    return {"label": label, "description": description, "schema": schema}


#: Extra fields of the connection form (``conn-fields``, Airflow 3.2+; also drives the 3.1 widgets).
#: Airflow 3.3 shows placeholders for the standard fields only, so each description says what to enter.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "refresh_token": _string(
        "Refresh token",
        "From a Zoho self client (grant code exchange, access_type=offline), e.g. 1000.xxxx.xxxx.",
        secret=True,
    ),
    "data_center": _string(
        "Data centre", "Where the Zoho account lives.", enum=DATA_CENTERS, default=DEFAULT_DATA_CENTER
    ),
    "environment": _string(
        "Environment", "Production, sandbox or developer org.", enum=ENVIRONMENTS, default=DEFAULT_ENVIRONMENT
    ),
    "accounts_url": _string(
        "Accounts URL",
        "Leave empty to use the data centre's (e.g. https://accounts.zoho.eu); "
        "set for tests or the emulator.",
    ),
    "api_url": _string(
        "API URL",
        "Leave empty to use the data centre's and environment's (e.g. https://www.zohoapis.eu); "
        "set for tests or the emulator.",
    ),
    "api_version": _string(
        "API version", "CRM API version in the path, e.g. v8 or v2.", default=DEFAULT_API_VERSION
    ),
    "auth_scheme": _string(
        "Authorization scheme",
        "Header scheme of the access token.",
        enum=AUTH_SCHEMES,
        default=DEFAULT_AUTH_SCHEME,
    ),
    "access_token": _string(
        "Static access token",
        "Leave empty to mint tokens from the refresh token; a static token is never refreshed.",
        secret=True,
    ),
    "cache": _string(
        "Access token cache",
        "file (per host, the default), memory (per process) or a Redis URL such as "
        "redis://redis:6379/0 (shared across hosts).",
    ),
    "cache_dir": _string(
        "Cache directory", "Directory of the file cache; empty: <tmp>/airflow-crm-provider-<uid>."
    ),
    "connect_timeout": _string(
        "Connect timeout (s)", f"Seconds to establish a connection (default {DEFAULT_CONNECT_TIMEOUT:g})."
    ),
    "read_timeout": _string(
        "Read timeout (s)", f"Seconds to wait for a reply (default {DEFAULT_READ_TIMEOUT:g})."
    ),
}

#: Form behaviour (``ui-field-behaviour``, Airflow 3.2+ spelling with hyphens).
#: The port stays visible: Airflow 3.3's Test button sends a stored empty port as 0, which the server
#: refuses ("host or port differs"); a stored port (443, unused by the hook) is sent back unchanged.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["host", "schema"],
    "relabeling": {"login": "Client ID", "password": "Client Secret", "port": "Port (443)"},
    "placeholders": {
        "login": "1000.XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX (Self Client id, api-console.zoho.com)",
        "password": "Self Client secret",
        "port": "443 (needed by the Test button)",
        "refresh_token": "1000.xxxxxxxx.xxxxxxxx (from exchanging a Self Client grant code)",
        "accounts_url": "empty: from the data centre, e.g. https://accounts.zoho.eu",
        "api_url": "empty: from data centre and environment, e.g. https://www.zohoapis.eu",
        "api_version": DEFAULT_API_VERSION,
        "access_token": "empty: mint tokens from the refresh token",
        "cache": "file | memory | redis://redis:6379/0",
        "cache_dir": "empty: <tmp>/airflow-crm-provider-<uid>",
        "connect_timeout": str(DEFAULT_CONNECT_TIMEOUT),
        "read_timeout": str(DEFAULT_READ_TIMEOUT),
    },
}


def ui_field_behaviour() -> dict[str, Any]:
    """Return the form behaviour in the spelling of ``get_ui_field_behaviour()`` (Airflow 3.1)."""
    return {
        "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }


def form_widgets() -> dict[str, Any]:
    """Return the extra fields as WTForms fields, for ``get_connection_form_widgets()`` (Airflow 3.1)."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, spec in CONN_FIELDS.items():
        if spec["schema"].get("format") == "password":
            widgets[name] = PasswordField(lazy_gettext(spec["label"]), widget=BS3PasswordFieldWidget())
        else:
            widgets[name] = StringField(
                lazy_gettext(spec["label"]),
                widget=BS3TextFieldWidget(),
                default=spec["schema"].get("default"),
            )
    return widgets
