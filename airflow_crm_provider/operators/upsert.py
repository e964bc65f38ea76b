"""
Operators that insert or update records matched on duplicate check fields (Upsert), reporting each row.

They read ``rows`` (a list, an ``XComArg`` or a SQL query), validate them, send them 100 a call
through the ids runner of :mod:`airflow_crm_provider.runs` (rows are known by their position, as a
row may have no id) and conclude; each row's record says ``insert`` or ``update`` and carries the id
Zoho gave it.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.operators.rows_base import ZohoCRMRowsOperator
from airflow_crm_provider.runs import credit_floor
from airflow_crm_provider.runs.ids_runner import ids_result, run_ids_mode
from airflow_crm_provider.runs.ledger import ChunkLedger, fingerprint
from airflow_crm_provider.runs.outcomes import Decision, RunResult, summarize
from airflow_crm_provider.runs.planned import UpsertCalls
from airflow_crm_provider.runs.policy import InputError
from airflow_crm_provider.runs.rows import field_values
from airflow_crm_provider.runs.rows_inputs import check_upsert_rows
from airflow_crm_provider.zoho.calls import UPSERT

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_crm_provider.runs.outcomes import Summary
    from airflow_crm_provider.runs.rows_inputs import CheckedRows


class ZohoCRMUpsertOperator(ZohoCRMRowsOperator):
    """
    Insert or update Zoho CRM records, matched on ``duplicate_check_fields``, and report every row.

    A row with an ``id`` updates that record; one without updates the record whose duplicate check
    field holds the row's value, or is inserted. Each row needs an id or a duplicate check value,
    and no two rows may share one: then a call whose reply was lost can be sent again (it updates
    what the first send inserted), which the hook's retries and a task retry do. Such a row's
    record says ``UNCONFIRMED`` until a retry sends it again: Zoho has no read by duplicate check
    value that would settle it as cheaply as a re-send. ``records`` holds one result per row, in
    input order, with ``row`` (its index), ``id`` (Zoho's record id once known) and ``action``
    (``insert`` or ``update``); the summary counts them under ``actions``.

    :param duplicate_check_fields: the unique fields to match on, in order, e.g. ``["Email"]``.

    Also takes the arguments of :class:`~airflow_crm_provider.operators.rows_base.ZohoCRMRowsOperator`
    (``module``, ``rows`` or ``sql`` + ``conn_id``, ``trigger``) and of the base operator;
    ``batch_size`` is the rows per call (at most 100).
    """

    template_fields: Sequence[str] = (*ZohoCRMRowsOperator.template_fields, "duplicate_check_fields")
    action = UPSERT
    _what = UPSERT.title

    def __init__(self, *, duplicate_check_fields: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.duplicate_check_fields = duplicate_check_fields

    def _inputs(self, rows: Any) -> CheckedRows:
        return check_upsert_rows(
            module=self.module,
            rows=rows,
            duplicate_check_fields=self.duplicate_check_fields,
            trigger=self.trigger,
            policy=self._policy(),
        )

    def _execute(self, context: Context) -> Summary:
        """Validate the rows, upsert them 100 a call, push the XComs and end the task."""
        try:
            inputs = self._inputs(self._source_rows(context))
        except InputError as err:
            self._refuse_input(context, err)
        if not inputs.rows:
            decision = Decision("skipped", "no rows to upsert after rendering `rows`")
            return self._conclude(context, RunResult(summarize(inputs.module, "ids", []), [], decision))
        module = inputs.module
        hook = self._connected_hook(context, module, inputs.ids)
        self._refuse_below_floor(context, hook, self._requested_ids())
        self._preflight(context, hook, module, field_values(inputs.rows), self._requested_ids())
        state = self._task_state(context, "a retry of this task re-sends every row")
        run_key = fingerprint("upsert", module, inputs.duplicate_check_fields, inputs.trigger)
        calls = UpsertCalls(inputs.rows, inputs.duplicate_check_fields, inputs.sending.batch_size or 100)
        self.log.info(
            "Upsert of %d %s row(s) on %s: %d call(s) of up to %d rows, %d at a time",
            len(inputs.rows),
            module,
            inputs.duplicate_check_fields,
            len(calls.chunks(calls.keys)),
            calls.size,
            inputs.sending.max_concurrency,
        )
        send = credit_floor.guarded(
            calls.sender(hook, module, inputs.trigger), hook.credits, self.min_credits_remaining
        )
        ledger = ChunkLedger(state, run_key, calls.content)
        run = run_ids_mode(send, calls.keys, inputs.sending, ledger, inputs.overrides, chunks=calls.chunks)
        self.log.info("%d call(s) made; %d row(s) resumed from earlier tries", run.calls, run.resumed)
        result = ids_result(module, calls.keys, run, inputs.thresholds, inputs.overrides)
        for row, record in zip(inputs.rows, result.records, strict=True):
            details = record["details"]
            record["id"] = str(details.get("id") or row.id or "")
            record["row"] = row.index
            record["action"] = details.get("action") if record["outcome"] == "updated" else None
        result.summary["actions"] = dict(Counter(str(r["action"]) for r in result.records if r["action"]))
        return self._conclude(context, result, state)


class LeadsUpsertOperator(ZohoCRMUpsertOperator):
    """
    :class:`ZohoCRMUpsertOperator` for the ``Leads`` module.

    Takes the same keyword arguments except ``module``.
    """

    template_fields: Sequence[str] = tuple(f for f in ZohoCRMUpsertOperator.template_fields if f != "module")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(module="Leads", **kwargs)
