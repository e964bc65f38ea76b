"""
``leads_mass_update_on_demand``: trigger it from the UI and fill in the form.

- ``ids``: one lead id per line (or comma-separated); the textarea keeps the default's newlines.
- ``field`` and ``value``: what to set; ``over_write``: replace multi-select picklist values instead of
  adding to them; ``dry_run``: read the leads and report what would change, writing nothing.

The form's JSON schema refuses bad input (an id that is not 1-19 digits, an unknown field, an empty
value) before a run is created, so no task ever sees it. ``report`` writes failed and skipped records
to ``lead_update_issues`` as in the daily pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import DAG, Param
from leads_common import POOL, RETRIES, report

from airflow_crm_provider.operators.mass_update import LeadsMassUpdateOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Ids of 1-19 digits separated by newlines and/or commas (blank lines and spaces allowed).
IDS_PATTERN = r"^\s*[0-9]{1,19}(\s*[,\n]\s*[0-9]{1,19})*\s*$"
FIELDS = ["Lead_Status", "Lead_Source", "Rating", "Industry", "City", "Country"]


class FormMassUpdate(LeadsMassUpdateOperator):
    """``LeadsMassUpdateOperator`` taking ``over_write`` and ``dry_run`` from the trigger form."""

    def execute(self, context: Context) -> Any:
        """Apply the form's booleans (validated by the Params schema), then update."""
        params = context["params"]
        self.over_write, self.is_dry_run = bool(params["over_write"]), bool(params["dry_run"])
        return super().execute(context)


with DAG(
    dag_id="leads_mass_update_on_demand",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["zoho_crm", "example"],
    doc_md=__doc__,
    params={
        "ids": Param(
            "738964000002131001\n738964000002130131",
            type="string",
            format="multiline",  # a textarea: newlines survive the form
            pattern=IDS_PATTERN,
            title="Lead ids",
            description="One id per line (or comma-separated), up to 19 digits each.",
        ),
        "field": Param("City", type="string", enum=FIELDS, title="Field to set"),
        "value": Param("Lisbon", type="string", minLength=1, maxLength=255, title="New value"),
        "over_write": Param(
            False,
            type="boolean",
            title="Overwrite",
            description="Multi-select picklists: replace the values instead of adding to them.",
        ),
        "dry_run": Param(False, type="boolean", title="Dry run", description="Report only, write nothing."),
    },
) as on_demand_dag:
    update = FormMassUpdate(
        task_id="update_leads",
        ids="{{ params.ids }}",
        data="{{ {params.field: params.value} | tojson }}",
        pool=POOL,
        pool_slots=4,
        **RETRIES,
    )
    update >> report(requested="{{ params.ids }}").as_teardown()
