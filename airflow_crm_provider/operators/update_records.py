"""
Operators that set a value per record (Update Records, planned together with mass updates).

They read ``rows`` (a list, an ``XComArg`` or a SQL query), validate them, plan the calls (rows that
share their values as mass updates, the rest as Update Records, the fewest calls or credits), then
send the planned calls through the ids runner of :mod:`airflow_crm_provider.runs` and conclude.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_crm_provider.operators.rows_base import ZohoCRMRowsOperator
from airflow_crm_provider.runs import credit_floor
from airflow_crm_provider.runs.dry_run import run_dry_run
from airflow_crm_provider.runs.guarded_reads import reads_within
from airflow_crm_provider.runs.ids_runner import ids_result, run_ids_mode
from airflow_crm_provider.runs.ledger import ChunkLedger, PriorLedger, fingerprint
from airflow_crm_provider.runs.outcomes import Decision, RunResult, summarize
from airflow_crm_provider.runs.planned import PlannedCalls, still_unchanged_rows, unchanged_rows
from airflow_crm_provider.runs.planner import plan
from airflow_crm_provider.runs.policy import InputError
from airflow_crm_provider.runs.prior import read_back_rows, unchanged_entry
from airflow_crm_provider.runs.rows import field_values
from airflow_crm_provider.runs.rows_inputs import check_update_rows
from airflow_crm_provider.zoho.calls import UPDATE_RECORDS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
    from airflow_crm_provider.runs.outcomes import Mode, Summary
    from airflow_crm_provider.runs.planner import Optimize, Plan
    from airflow_crm_provider.runs.rows_inputs import CheckedRows

#: The XCom key of the values a snapshot run wrote, per record (a revert compares against them).
WRITTEN_KEY = "written"


class ZohoCRMUpdateRecordsOperator(ZohoCRMRowsOperator):
    """
    Set a value per record on Zoho CRM records and report every record.

    The rows are planned before any write: rows that share their values go as mass updates (up to
    500 ids a call), the rest as Update Records (up to 100 records a call), taking the fewest calls
    or credits (``optimize``). The plan is logged and pushed (XCom ``plan``) before the first write,
    and is the summary's ``plan``. ``records`` holds one result per row, in input order. On Airflow
    3.3+ no later try re-sends a call Zoho answered; a call whose reply was lost is settled by
    reading its records back.

    :param optimize: ``"calls"`` (default) or ``"credits"``: what the plan minimises.
    :param costs: Zoho's limits and costs as the plan counts them, e.g. ``{"mass_update_credits": 2}``
        (fields of :class:`~airflow_crm_provider.runs.planner.Costs`; a mass update's credit cost is
        not documented by Zoho, the default is 1).
    :param use_mass_update: let the plan use mass updates (never with a ``trigger``: a mass update
        runs the org's automation as Zoho's default does).
    :param mass_update_blocked_fields: fields mass update refuses in this org: rows setting one go as
        Update Records.
    :param dry_run: read the records and report each as ``would_update``, ``unchanged`` or
        ``not_found``, with the plan; nothing is written.
    :param skip_unchanged: read first and send only the rows whose values differ (``unchanged``).
    :param snapshot: read the prior values first and push them (XCom ``snapshot``; the values written
        under ``written``) for the revert operator
        (:class:`~airflow_crm_provider.operators.revert.ZohoCRMRevertMassUpdateOperator`).

    Also takes the arguments of :class:`~airflow_crm_provider.operators.rows_base.ZohoCRMRowsOperator`
    (``module``, ``rows`` or ``sql`` + ``conn_id``, ``trigger``) and of the base operator;
    ``batch_size`` is the records per Update Records call (at most 100).
    """

    action = UPDATE_RECORDS
    _what = UPDATE_RECORDS.title

    def __init__(
        self,
        *,
        optimize: Optimize = "calls",
        costs: dict[str, int] | None = None,
        use_mass_update: bool = True,
        mass_update_blocked_fields: Sequence[str] = (),
        dry_run: bool = False,
        skip_unchanged: bool = False,
        snapshot: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.optimize = optimize
        self.costs = costs
        self.use_mass_update = use_mass_update
        self.mass_update_blocked_fields = mass_update_blocked_fields
        # ``BaseOperator.dry_run()`` is a method (render templates only): keep the flag apart from it
        self.is_dry_run = dry_run
        self.skip_unchanged = skip_unchanged
        self.snapshot = snapshot

    def _mode(self) -> Mode:
        return "dry_run" if self.is_dry_run else "ids"

    def _inputs(self, rows: Any) -> CheckedRows:
        return check_update_rows(
            module=self.module,
            rows=rows,
            trigger=self.trigger,
            optimize=self.optimize,
            costs=self.costs,
            use_mass_update=bool(self.use_mass_update),
            blocked_fields=self.mass_update_blocked_fields,
            policy=self._policy(),
        )

    def _plan(self, inputs: CheckedRows, rows: Any) -> Plan:
        found = plan(rows, optimize=inputs.optimize, costs=inputs.costs, rules=inputs.rules)
        self.log.info("Update Records of %d %s row(s): %s", len(rows), inputs.module, found.describe())
        return found

    def _execute(self, context: Context) -> Summary:
        """Validate the rows, plan the calls, send them, push the XComs and end the task."""
        try:
            inputs = self._inputs(self._source_rows(context))
        except InputError as err:
            self._refuse_input(context, err)
        if not inputs.rows:
            decision = Decision("skipped", "no rows to update after rendering `rows`")
            result = RunResult(summarize(inputs.module, self._mode(), []), [], decision)
            return self._conclude(context, result)
        the_plan = self._plan(inputs, inputs.rows)
        hook = self._connected_hook(context, inputs.module, inputs.ids)
        if self.is_dry_run:
            self._preflight(context, hook, inputs.module, field_values(inputs.rows), inputs.ids)
            values = {row.id: row.values for row in inputs.rows if row.id is not None}
            result = run_dry_run(
                hook, module=inputs.module, data={}, ids=inputs.ids, over_write=True, values=values
            )
            result.summary["plan"] = the_plan.summary()
            return self._conclude(context, result)
        self._refuse_below_floor(context, hook, inputs.ids)
        self._preflight(context, hook, inputs.module, field_values(inputs.rows), inputs.ids)
        return self._run(context, hook, inputs, the_plan)

    def _run(self, context: Context, hook: ZohoCRMHook, inputs: CheckedRows, the_plan: Plan) -> Summary:
        """Read first if asked, send the planned calls, then conclude."""
        module, rows = inputs.module, inputs.rows
        state = self._task_state(context, "a retry of this task re-sends every row")
        run_key = fingerprint("update_records", module, inputs.trigger)
        reads = reads_within(hook, self.min_credits_remaining)
        unchanged: list[str] = []
        snapshot: dict[str, dict[str, Any]] | None = None
        if self.skip_unchanged or self.snapshot:
            fields = list(dict.fromkeys(f for row in rows for f in row.values))
            prior = self._read_first(hook, inputs, fields, PriorLedger(state, fingerprint(run_key, fields)))
            if isinstance(prior, RunResult):
                return self._conclude(context, prior)
            if self.skip_unchanged:
                unchanged = unchanged_rows(rows, prior)
                if prior.reused:  # an earlier try's reading: what it found unchanged may have moved
                    unchanged = still_unchanged_rows(reads, module, rows, unchanged, prior.reused)
                skip = set(unchanged)
                rows = [row for row in rows if row.id not in skip]
                self.log.info("%d record(s) already hold their value(s) and are not sent", len(unchanged))
                the_plan = self._plan(inputs, rows)
            if self.snapshot:
                snapshot = {
                    str(row.id): {f: prior.values[str(row.id)].get(f) for f in row.values}
                    for row in rows
                    if row.id in prior.values
                }
        if self.do_xcom_push:
            context["ti"].xcom_push(key="plan", value=the_plan.summary())
        planned = PlannedCalls(the_plan)
        send = credit_floor.guarded(
            planned.sender(hook, module, inputs.trigger), hook.credits, self.min_credits_remaining
        )
        check = read_back_rows(reads, module=module, expected=planned.expected())
        ledger = ChunkLedger(state, run_key, planned.content)
        run = run_ids_mode(
            send,
            planned.ids,
            inputs.sending,
            ledger,
            inputs.overrides,
            read_back=check,
            chunks=planned.chunks,
        )
        self.log.info("%d call(s) made; %d record(s) resumed from earlier tries", run.calls, run.resumed)
        run.entries.update((i, unchanged_entry(i)) for i in unchanged)
        result = ids_result(module, inputs.ids, run, inputs.thresholds, inputs.overrides)
        result.summary["plan"] = the_plan.summary()
        if snapshot is not None:
            result.snapshot = snapshot
            result.summary["snapshot"] = {"records": len(snapshot), "data": {}, "over_write": True}
            if self.do_xcom_push:
                written = {str(row.id): row.values for row in rows if str(row.id) in snapshot}
                context["ti"].xcom_push(key=WRITTEN_KEY, value=written)
        return self._conclude(context, result, state)


class LeadsUpdateRecordsOperator(ZohoCRMUpdateRecordsOperator):
    """
    :class:`ZohoCRMUpdateRecordsOperator` for the ``Leads`` module.

    Takes the same keyword arguments except ``module``.
    """

    template_fields: Sequence[str] = tuple(
        f for f in ZohoCRMUpdateRecordsOperator.template_fields if f != "module"
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(module="Leads", **kwargs)
