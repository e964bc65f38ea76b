"""The write engine: inputs, runners, outcomes and the task-state ledger, with no Airflow imports."""
