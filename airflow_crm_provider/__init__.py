"""Apache Airflow provider for Zoho CRM bulk writes."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata for Airflow's providers manager (entry point)."""
    from airflow_crm_provider.hooks._form import CONN_FIELDS, UI_FIELD_BEHAVIOUR

    return {
        "package-name": "airflow-crm-provider",
        "name": "Zoho CRM",
        "description": "Zoho CRM mass update with per-record results, typed errors and shared OAuth tokens.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Zoho CRM",
                "external-doc-url": "https://www.zoho.com/crm/developer/docs/api/v8/mass-update-records.html",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "Zoho CRM", "python-modules": ["airflow_crm_provider.hooks.zoho_crm"]}
        ],
        "operators": [
            {
                "integration-name": "Zoho CRM",
                "python-modules": [
                    "airflow_crm_provider.operators.mass_update",
                    "airflow_crm_provider.operators.revert",
                    "airflow_crm_provider.operators.update_records",
                    "airflow_crm_provider.operators.upsert",
                ],
            }
        ],
        "triggers": [
            {"integration-name": "Zoho CRM", "python-modules": ["airflow_crm_provider.triggers.mass_update"]}
        ],
        "extra-links": ["airflow_crm_provider.operators.links.ZohoCRMLink"],
        "connection-types": [
            {
                "connection-type": "zoho_crm",
                "hook-class-name": "airflow_crm_provider.hooks.zoho_crm.ZohoCRMHook",
                "hook-name": "Zoho CRM",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
