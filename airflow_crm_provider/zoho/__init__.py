"""
The Zoho CRM client: settings, HTTP, OAuth tokens, the API and its errors. Imports nothing from Airflow.

The Airflow adapters (:mod:`~airflow_crm_provider.hooks`, :mod:`~airflow_crm_provider.operators`,
:mod:`~airflow_crm_provider.triggers`) sit on top of it; nothing here knows about them.
"""
