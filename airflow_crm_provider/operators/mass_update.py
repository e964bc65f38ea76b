"""
Operators that set one field to one value on many Zoho CRM records, reporting every record.

It renders and validates the inputs, hands them to a runner (ids mode, job mode, dry run) that knows
nothing of Airflow, then concludes (:class:`~airflow_crm_provider.operators.base.ZohoCRMBaseOperator`)
with the :class:`~airflow_crm_provider.runs.outcomes.RunResult` it gets back.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.operators.base import ZohoCRMBaseOperator
from airflow_crm_provider.runs import credit_floor
from airflow_crm_provider.runs.dry_run import read_back, run_dry_run
from airflow_crm_provider.runs.ids_runner import ids_result, run_ids_mode
from airflow_crm_provider.runs.inputs import (
    CheckedInputs,
    InputError,
    requested_ids,
)
from airflow_crm_provider.runs.job_inputs import (
    JobSettings,
    ViewTarget,
    check_timing,
    check_view_target,
    is_unset,
)
from airflow_crm_provider.runs.job_runner import complete_job, run_job
from airflow_crm_provider.runs.ledger import ChunkLedger, JobTracker, PriorLedger, fingerprint
from airflow_crm_provider.runs.outcomes import (
    Decision,
    Mode,
    RunResult,
    Summary,
    summarize,
)
from airflow_crm_provider.runs.prior import unchanged_entry
from airflow_crm_provider.version_compat import conf

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
    from airflow_crm_provider.triggers.mass_update import ZohoCRMMassUpdateJobTrigger
    from airflow_crm_provider.zoho.api import ZohoEntry

log = logging.getLogger(__name__)


#: How long job mode waits for a job by default (Zoho runs up to 50,000 records per job).
DEFAULT_JOB_TIMEOUT = timedelta(hours=6)


class ZohoCRMMassUpdateOperator(ZohoCRMBaseOperator):
    """
    Set the same field value(s) on many records of a Zoho CRM module and report every record.

    Ids are sent in chunks of at most 500 with bounded concurrency; ``RECORD_LOCKED`` records are
    re-sent after a backoff. Each record gets an outcome from Zoho's code and the error policy
    (``updated``, ``skipped``, ``failed``, ``ignored``); the summary is the return value and the
    per-record list is pushed under the XCom key ``records``, whichever way the task ends. On Airflow
    3.3+ no later try of the task instance sends again a record Zoho updated.

    With ``cvid`` (optionally ``territory_id``) instead of ``ids``, Zoho updates a custom view's records
    (up to 50,000) as a background job: the job id is pushed under the XCom key ``job_id`` at once, the
    task waits by polling (or defers to a poll-only trigger with ``deferrable=True``), and the summary
    carries Zoho's counts; ``records`` stays empty since Zoho reports no per-record results. On Airflow
    3.3+ a retry after a crash resumes the same job. ``dry_run=True`` (ids mode) reads the target
    fields instead of writing, and reports each id as ``would_update``, ``unchanged`` or ``not_found``.

    :param module: Zoho module API name (``Leads``, ``Contacts``...). Templated.
    :param data: field API name -> value to set, e.g. ``{"Lead_Status": "Contacted"}``. Templated.
    :param ids: record ids: a list (str or int), an ``XComArg``, or text rendering to a JSON list, a
        Python list or ids separated by commas, semicolons, spaces or newlines. Duplicates are
        dropped. Templated.
    :param over_write: multi-select picklists: replace (``True``) or append to (``False``) the values.
    :param cvid: custom view whose records a Zoho job updates (job mode; not with ``ids``). Templated.
    :param territory_id: only the view's records in this territory (needs ``cvid``). Templated.
    :param include_child: with ``territory_id``, also its child territories.
    :param deferrable: wait for the job in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``).
    :param poll_interval: seconds between job status requests.
    :param timeout: how long to wait for the job (seconds or ``timedelta``; ``None``: as long as it
        runs). When it passes the task fails and the job keeps running in Zoho CRM.
    :param dry_run: read the records and report what would change; nothing is written (ids mode).
        Kept as ``is_dry_run`` (``BaseOperator.dry_run()`` is a method).
    :param skip_unchanged: read the target fields first and send only the records whose values differ
        (ids mode); the others get outcome ``unchanged`` (code ``UNCHANGED``), which counts as neither
        updated nor skipped. Costs one read call per 100 ids, saves a write per 500 and Zoho's
        workflows on records that already held the values.
    :param snapshot: read and keep the target fields' prior values of every record about to be
        written, before the first write (ids mode), and push them under the XCom key ``snapshot``
        (``{id: {field: prior value}}``) for
        :class:`~airflow_crm_provider.operators.revert.ZohoCRMRevertMassUpdateOperator`.

    Also takes the arguments of :class:`~airflow_crm_provider.operators.base.ZohoCRMBaseOperator`:
    the connection, how ids are sent, the error policy, thresholds and the credit floor.
    """

    template_fields: Sequence[str] = ("module", "data", "ids", "cvid", "territory_id", "zoho_conn_id")
    template_fields_renderers = {"data": "json", "ids": "py"}

    def __init__(
        self,
        *,
        module: str,
        data: dict[str, Any] | str,
        ids: Sequence[str | int] | str | None = None,
        over_write: bool = False,
        cvid: str | int | None = None,
        territory_id: str | int | None = None,
        include_child: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: timedelta | float | None = DEFAULT_JOB_TIMEOUT,
        dry_run: bool = False,
        skip_unchanged: bool = False,
        snapshot: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.module = module
        self.data = data
        self.ids = ids
        self.over_write = over_write
        self.cvid = cvid
        self.territory_id = territory_id
        self.include_child = include_child
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        # ``BaseOperator.dry_run()`` is a method (render templates only): keep the flag apart from it
        self.is_dry_run = dry_run
        self.skip_unchanged = skip_unchanged
        self.snapshot = snapshot

    def _inputs(self) -> CheckedInputs:
        """Validate the rendered arguments (raises :class:`InputError`)."""
        return self._check_inputs(module=self.module, data=self.data, ids=self.ids)

    def _mode(self) -> Mode:
        """Return the summary's ``mode`` from the arguments, before or without validation."""
        if not is_unset(self.cvid):
            return "job"
        return "dry_run" if self.is_dry_run else "ids"

    def _module_name(self) -> str:
        return str(self.module)

    def _requested_ids(self) -> list[str]:
        return requested_ids(self.ids)

    def _view_target(self) -> ViewTarget | None:
        """Return the custom view of job mode, or ``None`` in ids mode (raises :class:`InputError`)."""
        view = check_view_target(
            ids=self.ids,
            cvid=self.cvid,
            territory_id=self.territory_id,
            include_child=self.include_child,
            dry_run=bool(self.is_dry_run),
        )
        if self.include_child and (view is None or view.territory_id is None):
            self.log.warning("include_child applies to a territory only; no territory_id was given")
        return view

    def _execute(self, context: Context) -> Summary:
        """Validate the rendered inputs, run the mass update, push the XComs and end the task."""
        try:
            view = self._view_target()
            inputs = self._inputs()
            if view is not None and (self.skip_unchanged or self.snapshot):
                raise InputError(
                    "skip_unchanged and snapshot need ids: a custom view job updates records that Zoho "
                    "selects, which cannot be read first"
                )
        except InputError as err:
            return self._conclude(context, self._refusal(f"invalid input, nothing was sent to Zoho: {err}"))
        if view is not None:
            return self._run_job(context, inputs, view)
        if inputs.duplicates:
            self.log.warning(
                "Dropped %d duplicate id(s), each id is sent once: %s",
                len(inputs.duplicates),
                ", ".join(inputs.duplicates[:5]),
            )
        if not inputs.ids:
            decision = Decision("skipped", "no record ids to update after rendering `ids`")
            result = RunResult(summarize(inputs.module, self._mode(), []), [], decision)
            return self._conclude(context, self._with_snapshot(result, {}, inputs.data))
        hook = self._connected_hook(context, inputs.module, inputs.ids)
        if self.is_dry_run:
            if self.snapshot:
                self.log.warning("snapshot=True takes no snapshot in a dry run: nothing is written")
            result = run_dry_run(
                hook, module=inputs.module, data=inputs.data, ids=inputs.ids, over_write=bool(self.over_write)
            )
            return self._conclude(context, result)
        short = credit_floor.floor_at_start(hook, self.min_credits_remaining)
        if short is not None:
            return self._conclude(context, self._refusal(f"nothing was sent to Zoho: {short}", inputs.ids))
        return self._run_ids(context, hook, inputs)

    def _job_settings(self, inputs: CheckedInputs, view: ViewTarget) -> JobSettings:
        """Return the job-mode settings (raises :class:`InputError`)."""
        poll_interval, timeout = check_timing(self.poll_interval, self.timeout)
        return JobSettings(
            module=inputs.module,
            data=inputs.data,
            target=view,
            over_write=bool(self.over_write),
            overrides=inputs.overrides,
            thresholds=inputs.thresholds,
            zoho_conn_id=self.zoho_conn_id,
            poll_interval=poll_interval,
            timeout=timeout,
        )

    def _run_job(self, context: Context, inputs: CheckedInputs, view: ViewTarget) -> Summary:
        """Schedule (or resume) a custom view job, wait for it (here or deferred) and conclude."""
        try:
            settings = self._job_settings(inputs, view)
        except InputError as err:
            return self._conclude(context, self._refusal(f"invalid input, nothing was sent to Zoho: {err}"))
        hook = self._connected_hook(context, inputs.module, [], self.cvid)
        short = credit_floor.floor_at_start(hook, self.min_credits_remaining)
        if short is not None:
            return self._conclude(context, self._refusal(f"no job was scheduled: {short}", []))
        state = self._task_state(context, "a retry of this task schedules a new job")

        def on_scheduled(job_id: str) -> None:
            if self.do_xcom_push:
                context["ti"].xcom_push(key="job_id", value=job_id)

        def defer(trigger: ZohoCRMMassUpdateJobTrigger, timeout: timedelta | None) -> None:
            self.defer(trigger=trigger, method_name="execute_complete", timeout=timeout)

        tracker = JobTracker(state, settings.fingerprint())
        result = run_job(
            settings, hook, tracker, on_scheduled=on_scheduled, defer=defer if self.deferrable else None
        )
        return self._conclude(context, result, state)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Summary:
        """
        Conclude a deferred job from the trigger's event (job mode).

        :param context: the task context.
        :param event: ``{"status", "job_id", "job", "message", ...}`` from the trigger.
        """
        try:
            view = self._view_target()
            inputs = self._inputs()
            if view is None:
                raise InputError("cvid rendered empty after the deferral; cannot conclude the job")
            settings = self._job_settings(inputs, view)
        except InputError as err:
            return self._conclude(context, self._refusal(f"invalid input after the deferral: {err}"))
        state = self._task_state(context, "a retry of this task schedules a new job")
        JobTracker(state, settings.fingerprint())  # owns the job's key, so a final outcome forgets it
        return self._conclude(context, complete_job(settings, event, resumable=state.enabled), state)

    def _run_ids(self, context: Context, hook: ZohoCRMHook, inputs: CheckedInputs) -> Summary:
        """Read first if asked (``skip_unchanged``, ``snapshot``), send the ids in chunks, then conclude."""
        module, data, ids, sending = inputs.module, inputs.data, inputs.ids, inputs.sending
        over_write = bool(self.over_write)
        state = self._task_state(context, "a retry of this task re-sends every id")
        run_key = fingerprint(module, data, over_write)
        to_send, unchanged, snapshot = ids, [], None
        if self.skip_unchanged or self.snapshot:
            prior = self._read_first(hook, inputs, list(data), PriorLedger(state, run_key))
            if isinstance(prior, RunResult):
                return self._conclude(context, self._with_snapshot(prior, {}, data))
            if self.skip_unchanged:
                unchanged = prior.unchanged(ids, data, over_write)
                skip = set(unchanged)
                to_send = [i for i in ids if i not in skip]
                self.log.info("%d record(s) already hold the value(s) and are not sent", len(unchanged))
            if self.snapshot:
                snapshot = prior.snapshot(to_send)
                if not state.enabled and getattr(context["ti"], "try_number", 1) > 1:
                    self.log.warning(
                        "snapshot of a retry without task_state_store: records an earlier try wrote "
                        "are read with their new value, so a revert leaves them as they are"
                    )
        self.log.info(
            "Mass update of %d %s record(s), fields %s: chunks of up to %d ids, %d call(s) at a time",
            len(to_send),
            module,
            sorted(data),
            sending.batch_size,
            sending.max_concurrency,
        )

        def write(chunk: list[str]) -> list[ZohoEntry]:
            return hook.mass_update(module, data, ids=chunk, over_write=over_write)

        send = credit_floor.guarded(write, hook.credits, self.min_credits_remaining)

        check = read_back(hook, module=module, data=data, over_write=over_write)
        run = run_ids_mode(
            send, to_send, sending, ChunkLedger(state, run_key), inputs.overrides, read_back=check
        )
        self.log.info(
            "%d mass update call(s) made; %d id(s) resumed from earlier tries", run.calls, run.resumed
        )
        run.entries.update((i, unchanged_entry(i)) for i in unchanged)
        result = ids_result(module, ids, run, inputs.thresholds, inputs.overrides)
        if snapshot is not None:
            self._with_snapshot(result, snapshot, data)
        return self._conclude(context, result, state)

    def _with_snapshot(
        self, result: RunResult, snapshot: dict[str, dict[str, Any]], data: dict[str, Any]
    ) -> RunResult:
        """Attach the snapshot (empty when nothing was written), so a revert finds what to restore."""
        if self.snapshot and not self.is_dry_run:
            result.snapshot = snapshot
            result.summary["snapshot"] = {
                "records": len(snapshot),
                "data": data,
                "over_write": bool(self.over_write),
            }
        return result


class LeadsMassUpdateOperator(ZohoCRMMassUpdateOperator):
    """
    :class:`ZohoCRMMassUpdateOperator` for the ``Leads`` module.

    Takes the same keyword arguments except ``module``.
    """

    template_fields: Sequence[str] = tuple(
        f for f in ZohoCRMMassUpdateOperator.template_fields if f != "module"
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(module="Leads", **kwargs)
