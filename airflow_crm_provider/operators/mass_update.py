"""
Operators that set the same value(s) on many Zoho CRM records (Mass Update), reporting every record.

They render and validate the inputs, hand them to a runner of :mod:`airflow_crm_provider.runs` (ids
mode, job mode, dry run), then conclude with the :class:`~airflow_crm_provider.runs.outcomes.RunResult`
it gives back; in job mode they build the trigger when the runner asks to defer.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.operators.base import ZohoCRMBaseOperator
from airflow_crm_provider.runs import credit_floor
from airflow_crm_provider.runs.dry_run import run_dry_run
from airflow_crm_provider.runs.guarded_reads import reads_within
from airflow_crm_provider.runs.ids_runner import ids_result, run_ids_mode
from airflow_crm_provider.runs.inputs import (
    CheckedInputs,
    InputError,
    requested_ids,
)
from airflow_crm_provider.runs.job_inputs import (
    POLL_INTERVAL,
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
from airflow_crm_provider.runs.prior import read_back, still_unchanged, unchanged_entry
from airflow_crm_provider.version_compat import conf
from airflow_crm_provider.zoho.calls import MASS_UPDATE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
    from airflow_crm_provider.runs.job_runner import Deferral
    from airflow_crm_provider.triggers.mass_update import ZohoCRMMassUpdateJobTrigger
    from airflow_crm_provider.zoho.api import ZohoEntry

log = logging.getLogger(__name__)


#: How long job mode waits for a job by default (Zoho runs up to 50,000 records per job).
DEFAULT_JOB_TIMEOUT = timedelta(hours=6)


class ZohoCRMMassUpdateOperator(ZohoCRMBaseOperator):
    """
    Set the same field value(s) on many records of a Zoho CRM module and report every record.

    With ``ids``, chunks of up to 500 ids go out with bounded concurrency and each record gets an
    outcome from Zoho's code and the error policy; with ``cvid`` (and ``territory_id``) Zoho updates a
    custom view's records as a background job, which the task waits for (or defers to the triggerer)
    and reports by counts. The summary is the return value; ``records`` (and ``job_id``, ``snapshot``)
    are pushed whichever way the task ends. On Airflow 3.3+ no later try re-sends what Zoho applied.

    :param module: Zoho module API name (``Leads``, ``Contacts``...). Templated.
    :param data: field API name -> value to set, e.g. ``{"Lead_Status": "Contacted"}``. Templated.
    :param ids: record ids: a list (str or int), an ``XComArg``, or text rendering to a JSON list, a
        Python list or ids separated by commas, semicolons, spaces or newlines. Templated.
    :param over_write: multi-select picklists: replace (``True``) or append to (``False``) the values.
    :param cvid: custom view whose records a Zoho job updates (job mode; not with ``ids``). Templated.
    :param territory_id: only the view's records in this territory (needs ``cvid``). Templated.
    :param include_child: with ``territory_id``, also its child territories.
    :param deferrable: wait for the job in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between job status requests.
    :param timeout: how long to wait for the job (seconds or ``timedelta``; ``None``: as long as it
        runs); when it passes the task fails and the job keeps running in Zoho CRM.
    :param dry_run: read the records and report each as ``would_update``, ``unchanged`` or
        ``not_found``; nothing is written (ids mode; kept as ``is_dry_run``).
    :param skip_unchanged: read first and send only the records whose values differ; the others get
        outcome ``unchanged`` (ids mode).
    :param snapshot: read the prior values before the first write and push them under the XCom key
        ``snapshot`` for :class:`~airflow_crm_provider.operators.revert.ZohoCRMRevertMassUpdateOperator`.

    Also takes the arguments of :class:`~airflow_crm_provider.operators.base.ZohoCRMBaseOperator`.
    """

    template_fields: Sequence[str] = ("module", "data", "ids", "cvid", "territory_id", "zoho_crm_conn_id")
    template_fields_renderers = {"data": "json", "ids": "py"}
    action = MASS_UPDATE
    _what = MASS_UPDATE.title

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
        poll_interval: float = POLL_INTERVAL,
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
            self._refuse_input(context, err)
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
        self._refuse_below_floor(context, hook, inputs.ids)
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
            poll_interval=poll_interval,
            timeout=timeout,
        )

    def _run_job(self, context: Context, inputs: CheckedInputs, view: ViewTarget) -> Summary:
        """Schedule (or resume) a custom view job, wait for it (here or deferred) and conclude."""
        try:
            settings = self._job_settings(inputs, view)
        except InputError as err:
            self._refuse_input(context, err)
        hook = self._connected_hook(context, inputs.module, [], self.cvid)
        self._refuse_below_floor(context, hook, [], unsent="no job was scheduled")
        state = self._task_state(context, "a retry of this task schedules a new job")

        def on_scheduled(job_id: str) -> None:
            # an object, not the bare id: Airflow's XCom view reads a bare digit string as a number
            if self.do_xcom_push:
                context["ti"].xcom_push(key="job_id", value={"job_id": job_id})

        def defer(deferral: Deferral) -> None:
            trigger = self._trigger(deferral, hook)
            self.defer(trigger=trigger, method_name="execute_complete", timeout=deferral.timeout)

        tracker = JobTracker(state, settings.fingerprint())
        result = run_job(
            settings, hook, tracker, on_scheduled=on_scheduled, defer=defer if self.deferrable else None
        )
        return self._conclude(context, result, state)

    def _trigger(self, deferral: Deferral, hook: ZohoCRMHook) -> ZohoCRMMassUpdateJobTrigger:
        """Return the poll-only trigger of a deferred job: same connection and hook settings, calls so far."""
        from airflow_crm_provider.triggers.mass_update import ZohoCRMMassUpdateJobTrigger

        return ZohoCRMMassUpdateJobTrigger(
            zoho_crm_conn_id=self.zoho_crm_conn_id,
            module=deferral.module,
            job_id=deferral.job_id,
            poll_interval=deferral.poll_interval,
            end_time=deferral.end_time,
            hook_params=self.hook_params,
            calls=hook.credits.calls,
            credits_remaining=hook.credits.remaining,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Summary:
        """
        Conclude a deferred job from the trigger's event (job mode).

        :param context: the task context.
        :param event: ``{"status", "job_id", "job", "message", ...}`` from the trigger.
        """
        self._link_saved = True  # before the deferral
        try:
            view = self._view_target()
            inputs = self._inputs()
            if view is None:
                raise InputError("cvid rendered empty after the deferral; cannot conclude the job")
            settings = self._job_settings(inputs, view)
        except InputError as err:
            self._refuse_input(context, err, after_deferral=True)
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
                if prior.reused:  # an earlier try's reading: what it found unchanged may have moved
                    reads = reads_within(hook, self.min_credits_remaining)
                    unchanged = still_unchanged(reads, module, unchanged, data, over_write, prior.reused)
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

        reads = reads_within(hook, self.min_credits_remaining)
        check = read_back(reads, module=module, data=data, over_write=over_write)
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
