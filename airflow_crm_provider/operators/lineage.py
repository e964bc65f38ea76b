"""
OpenLineage for the mass update operators: the Zoho module written to, with the run's statistics.

The output dataset is the module (name) in the org's API domain (namespace ``zoho-crm://<host>``),
with ``outputStatistics`` (``rowCount`` = records updated) and a ``zohoCrmMassUpdate`` facet
(requested, updated, skipped, failed, ignored, counts by Zoho code, mode, outcome, job id). It is
built from the task's XComs only. Everything OpenLineage is imported lazily: without the
OpenLineage provider installed, :func:`lineage_on_complete` returns ``None``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_crm_provider.operators.links import LINK_TARGET_KEY

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

#: Dataset namespace scheme of Zoho CRM modules.
NAMESPACE_SCHEME = "zoho-crm"
#: Name of the custom output facet.
FACET_NAME = "zohoCrmMassUpdate"
_COUNTS = ("requested", "updated", "skipped", "failed", "ignored")


def namespace(api_domain: str) -> str:
    """
    Return the dataset namespace of an org's API domain: ``zoho-crm://www.zohoapis.eu``.

    :param api_domain: e.g. ``https://www.zohoapis.eu``.
    """
    return f"{NAMESPACE_SCHEME}://{urlsplit(api_domain).netloc or api_domain}"


@functools.cache
def _facet_class() -> type:
    """Define the custom facet on first use (``attrs`` and the OpenLineage client load only then)."""
    import attr
    from openlineage.client.generated.base import OutputDatasetFacet

    @attr.define
    class ZohoCRMMassUpdateOutputDatasetFacet(OutputDatasetFacet):
        """What a mass update did to the module's records, by outcome and by Zoho code."""

        requested: int = attr.field(default=0)
        updated: int = attr.field(default=0)
        skipped: int = attr.field(default=0)
        failed: int = attr.field(default=0)
        ignored: int = attr.field(default=0)
        byCode: dict[str, int] = attr.field(factory=dict)
        mode: str | None = attr.field(default=None)
        outcome: str | None = attr.field(default=None)
        jobId: str | None = attr.field(default=None)

        @staticmethod
        def _get_schema() -> str:
            return "https://github.com/airflow-crm-provider/airflow-crm-provider/blob/main/docs/ui.md#lineage"

    return ZohoCRMMassUpdateOutputDatasetFacet


def _pull(task_instance: Any, key: str) -> Any:
    map_index = getattr(task_instance, "map_index", -1)
    kwargs: dict[str, Any] = {"map_indexes": map_index} if map_index is not None and map_index >= 0 else {}
    return task_instance.xcom_pull(task_ids=task_instance.task_id, key=key, **kwargs)


def lineage_on_complete(task_instance: Any) -> OperatorLineage | None:
    """
    Return the task's OpenLineage facets (the module as output), or ``None`` without OpenLineage.

    :param task_instance: the finished task instance (its XComs are read, nothing else).
    """
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import OutputDataset
        from openlineage.client.facet_v2 import output_statistics_output_dataset
    except ImportError:
        return None
    target = _pull(task_instance, LINK_TARGET_KEY)
    if not isinstance(target, dict) or not target.get("api_domain") or not target.get("module"):
        return OperatorLineage()  # the task stopped before its connection was resolved
    summary = _pull(task_instance, "return_value")
    facets: dict[str, Any] = {}
    if isinstance(summary, dict):
        counts = {name: int(summary.get(name) or 0) for name in _COUNTS}
        facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=counts["updated"]
        )
        facets[FACET_NAME] = _facet_class()(
            **counts,
            byCode={str(k): int(v) for k, v in (summary.get("by_code") or {}).items()},
            mode=summary.get("mode"),
            outcome=summary.get("outcome"),
            jobId=summary.get("job_id"),
        )
    dataset = OutputDataset(
        namespace=namespace(str(target["api_domain"])), name=str(target["module"]), outputFacets=facets
    )
    return OperatorLineage(outputs=[dataset])
