"""
Operators that set one field to one value on many Zoho CRM records, reporting every record.

This module is the only code that touches the task context: it renders and validates the inputs,
hands them to a runner (ids mode, job mode, dry run) that knows nothing of Airflow, then pushes the
:class:`~airflow_crm_provider.operators._outcome.RunResult` it gets back to XCom and ends the task.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_crm_provider.operators._dry_run import read_back, run_dry_run
from airflow_crm_provider.operators._ids_mode import ids_result, run_ids_mode
from airflow_crm_provider.operators._inputs import (
    CheckedInputs,
    InputError,
    check_inputs,
    requested_ids,
)
from airflow_crm_provider.operators._job_inputs import (
    JobSettings,
    ViewTarget,
    check_timing,
    check_view_target,
    is_unset,
)
from airflow_crm_provider.operators._job_mode import complete_job, run_job
from airflow_crm_provider.operators._outcome import (
    Decision,
    Mode,
    RunResult,
    Summary,
    build_records,
    collection_paused,
    format_report,
    summarize,
)
from airflow_crm_provider.operators._task_state import ChunkLedger, JobTracker, TaskState, fingerprint
from airflow_crm_provider.operators.links import ZohoCRMLink, save_link_target
from airflow_crm_provider.version_compat import (
    AIRFLOW_V_3_3_PLUS,
    AirflowFailException,
    AirflowSkipException,
    conf,
)
from airflow_crm_provider.zoho.settings import MAX_MASS_UPDATE_IDS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
    from airflow_crm_provider.triggers.mass_update import ZohoCRMMassUpdateJobTrigger
    from airflow_crm_provider.zoho.api import ZohoEntry

log = logging.getLogger(__name__)


#: How long job mode waits for a job by default (Zoho runs up to 50,000 records per job).
DEFAULT_JOB_TIMEOUT = timedelta(hours=6)


class ZohoCRMMassUpdateOperator(BaseOperator):
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
    :param zoho_conn_id: the ``zoho_crm`` connection. Templated.
    :param batch_size: ids per call, at most 500.
    :param max_concurrency: calls in flight at once (default 4, below the smallest edition's 5), at most
        10 (Zoho's pool for heavy calls). To bound calls across tasks and mapped task instances, use an
        Airflow pool sized in calls and ``pool_slots=max_concurrency``.
    :param error_policy: per-code classes overriding the defaults, e.g. ``{"NOT_APPROVED": "fail"}``
        (classes: ``fail``, ``soft``, ``retry``, ``ignore``).
    :param max_failed_records: failed records tolerated before the task fails.
    :param max_skipped_ratio: share of skipped records (0..1) above which the task is skipped.
    :param soft_fail: skip the task when nothing was updated or too many records were skipped;
        ``False`` fails it instead.
    :param locked_retries: re-sends of ``RECORD_LOCKED`` (retry-class) records before they count as skipped.
    :param locked_retry_delay: first wait before such a re-send, in seconds (doubles, with jitter).
    :param hook_params: extra ``ZohoCRMHook`` arguments (``max_attempts``, ``max_retry_wait``,
        ``backoff_base``).
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
    """

    template_fields: Sequence[str] = ("module", "data", "ids", "cvid", "territory_id", "zoho_conn_id")
    template_fields_renderers = {"data": "json", "ids": "py"}
    ui_color = "#e42527"
    operator_extra_links = (ZohoCRMLink(),)

    def __init__(
        self,
        *,
        module: str,
        data: dict[str, Any] | str,
        ids: Sequence[str | int] | str | None = None,
        over_write: bool = False,
        zoho_conn_id: str = "zoho_crm_default",
        batch_size: int = MAX_MASS_UPDATE_IDS,
        max_concurrency: int = 4,
        error_policy: dict[str, str] | None = None,
        max_failed_records: int = 0,
        max_skipped_ratio: float = 1.0,
        soft_fail: bool = True,
        locked_retries: int = 3,
        locked_retry_delay: float = 5.0,
        hook_params: dict[str, Any] | None = None,
        cvid: str | int | None = None,
        territory_id: str | int | None = None,
        include_child: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: timedelta | float | None = DEFAULT_JOB_TIMEOUT,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.module = module
        self.data = data
        self.ids = ids
        self.over_write = over_write
        self.zoho_conn_id = zoho_conn_id
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.error_policy = error_policy
        self.max_failed_records = max_failed_records
        self.max_skipped_ratio = max_skipped_ratio
        self.soft_fail = soft_fail
        self.locked_retries = locked_retries
        self.locked_retry_delay = locked_retry_delay
        self.hook_params = hook_params or {}
        self.cvid = cvid
        self.territory_id = territory_id
        self.include_child = include_child
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        # ``BaseOperator.dry_run()`` is a method (render templates only): keep the flag apart from it
        self.is_dry_run = dry_run

    @cached_property
    def hook(self) -> ZohoCRMHook:
        """The Zoho CRM hook (imported here, so parsing a DAG file stays cheap)."""
        from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook

        return ZohoCRMHook(zoho_conn_id=self.zoho_conn_id, **self.hook_params)

    def _inputs(self) -> CheckedInputs:
        """Validate the rendered arguments (raises :class:`InputError`)."""
        return check_inputs(
            module=self.module,
            data=self.data,
            ids=self.ids,
            error_policy=self.error_policy,
            max_failed_records=self.max_failed_records,
            max_skipped_ratio=self.max_skipped_ratio,
            soft_fail=self.soft_fail,
            batch_size=self.batch_size,
            max_concurrency=self.max_concurrency,
            locked_retries=self.locked_retries,
            locked_retry_delay=self.locked_retry_delay,
        )

    def _mode(self) -> Mode:
        """Return the summary's ``mode`` from the arguments, before or without validation."""
        if not is_unset(self.cvid):
            return "job"
        return "dry_run" if self.is_dry_run else "ids"

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

    def execute(self, context: Context) -> Summary:
        """Validate the rendered inputs, run the mass update, push the XComs and end the task."""
        try:
            view = self._view_target()
            inputs = self._inputs()
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
            return self._conclude(
                context, RunResult(summarize(inputs.module, self._mode(), []), [], decision)
            )
        hook = self._connected_hook(context, inputs.ids)
        if self.is_dry_run:
            result = run_dry_run(
                hook, module=inputs.module, data=inputs.data, ids=inputs.ids, over_write=bool(self.over_write)
            )
            return self._conclude(context, result)
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
        hook = self._connected_hook(context, [])
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

    def _task_state(self, context: Context, without: str) -> TaskState:
        """Return this task instance's state across tries, saying what a retry does without one."""
        state = TaskState(context.get("task_state_store"))
        if not state.enabled:
            where = "is not in the context" if AIRFLOW_V_3_3_PLUS else "does not exist before Airflow 3.3"
            self.log.warning("task_state_store %s: %s", where, without)
        return state

    def _connected_hook(self, context: Context, ids: list[str]) -> ZohoCRMHook:
        """Return the hook with its connection resolved, or end the task (still pushing XComs)."""
        try:
            hook = self.hook
            hook.get_conn()  # resolve the connection once, here, before calls fan out to threads
        except Exception as err:
            # bad settings fail the task; anything else (e.g. a connection not found yet) is retryable
            reason = f"connection {self.zoho_conn_id!r} is not usable: {err}"
            final = isinstance(err, (ValueError, TypeError))
            self._conclude(context, self._refusal(reason, ids, retryable=None if final else err))
            raise  # not reached: a refusal always ends the task
        save_link_target(context["ti"], hook, str(self.module), ids, self.cvid)
        return hook

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """
        Return the OpenLineage output (the module, with the run's counts), from the task's XComs.

        :param task_instance: the finished task instance.
        """
        from airflow_crm_provider.operators._lineage import lineage_on_complete

        return lineage_on_complete(task_instance)

    def _refusal(
        self, reason: str, ids: list[str] | None = None, *, retryable: BaseException | None = None
    ) -> RunResult:
        """Return a run that ended as failed before any mass update call (every id still gets a record)."""
        if ids is None:
            ids = requested_ids(self.ids)
        records = build_records(ids, {}, missing_message=f"not sent: {reason}")
        summary = summarize(str(self.module), self._mode(), records)
        return RunResult(summary, records, Decision("failed", reason), retryable=retryable, final=False)

    def _run_ids(self, context: Context, hook: ZohoCRMHook, inputs: CheckedInputs) -> Summary:
        """Send the ids in chunks, then conclude (ids mode)."""
        module, data, ids, sending = inputs.module, inputs.data, inputs.ids, inputs.sending
        over_write = bool(self.over_write)
        state = self._task_state(context, "a retry of this task re-sends every id")
        ledger = ChunkLedger(state, fingerprint(module, data, over_write))
        self.log.info(
            "Mass update of %d %s record(s), fields %s: chunks of up to %d ids, %d call(s) at a time",
            len(ids),
            module,
            sorted(data),
            sending.batch_size,
            sending.max_concurrency,
        )

        def send(chunk: list[str]) -> list[ZohoEntry]:
            return hook.mass_update(module, data, ids=chunk, over_write=over_write)

        check = read_back(hook, module=module, data=data, over_write=over_write)
        run = run_ids_mode(send, ids, sending, ledger, inputs.overrides, read_back=check)
        self.log.info(
            "%d mass update call(s) made; %d id(s) resumed from earlier tries", run.calls, run.resumed
        )
        return self._conclude(
            context, ids_result(module, ids, run, inputs.thresholds, inputs.overrides), state
        )

    def _conclude(self, context: Context, result: RunResult, state: TaskState | None = None) -> Summary:
        """
        Log the report, push both XComs, forget the saved state if final, then end the task.

        The summary (``return_value``) and ``records`` are pushed before any exception is raised, so
        ``all_done`` downstream tasks and callbacks can read them whichever way the task ends.

        :param context: the task context (its ``ti`` pushes the XComs).
        :param result: what the runner returned.
        :param state: the task's saved state, forgotten once the outcome is final and pushed.
        :return: the summary, on success (Airflow pushes it as ``return_value``).
        :raises AirflowFailException: the decision is ``failed`` (no Airflow retries).
        :raises AirflowSkipException: the decision is ``skipped``.
        """
        summary, records, decision, retryable = (
            result.summary,
            result.records,
            result.decision,
            result.retryable,
        )
        outcome = "failed" if retryable is not None else decision.outcome
        summary["outcome"] = outcome
        summary["reason"] = str(retryable) if retryable is not None else decision.reason
        if retryable is None and outcome != "success":
            # first, and outside Airflow's collapsed "Post Execute" group that logs the exception
            log.warning("Zoho CRM mass update of %s %s: %s", summary["module"], outcome, decision.reason)
        log.info("%s", format_report(summary, records))
        if self.do_xcom_push:
            with collection_paused():  # Airflow serializes each record into new dicts: no full collections
                context["ti"].xcom_push(key="records", value=list(records))
                if outcome != "success":
                    context["ti"].xcom_push(key="return_value", value=summary)
        if state is not None and result.final:
            state.clear()  # only now: the outcome is recorded, so a crash before this resumes the run
        module = summary["module"]
        if retryable is not None:
            self.log.error(
                "Zoho CRM mass update stopped by a transient error; Airflow retries apply: %s", retryable
            )
            raise retryable
        if outcome == "failed":
            raise AirflowFailException(f"Zoho CRM mass update of {module} failed: {decision.reason}")
        if outcome == "skipped":
            raise AirflowSkipException(f"Zoho CRM mass update of {module} skipped: {decision.reason}")
        log.info("Zoho CRM mass update of %s succeeded: %s", module, decision.reason)
        return summary


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
