"""Operators that set one field to one value on many Zoho CRM records, reporting every record."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_crm_provider.operators._compat import conf
from airflow_crm_provider.operators._dry_run import run_dry_run
from airflow_crm_provider.operators._ids_mode import run_ids_mode
from airflow_crm_provider.operators._inputs import (
    MAX_IDS_PER_CALL,
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
from airflow_crm_provider.operators._ledger import ChunkLedger
from airflow_crm_provider.operators.links import ZohoCRMLink, save_link_target
from airflow_crm_provider.results import (
    Decision,
    Mode,
    Summary,
    build_records,
    conclude,
    decide,
    summarize,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
    from airflow_crm_provider.replies import ZohoEntry
    from airflow_crm_provider.triggers.mass_update import ZohoCRMMassUpdateJobTrigger

#: How long job mode waits for a job by default (Zoho runs up to 50,000 records per job).
DEFAULT_JOB_TIMEOUT = timedelta(hours=6)


class ZohoCRMMassUpdateOperator(BaseOperator):
    """
    Set the same field value(s) on many records of a Zoho CRM module and report every record.

    Ids are sent in chunks of at most 500 with bounded concurrency; ``RECORD_LOCKED`` records are
    re-sent after a backoff. Each record gets an outcome from Zoho's code and the error policy
    (``updated``, ``skipped``, ``failed``, ``ignored``); the summary is the return value and the
    per-record list is pushed under the XCom key ``records``, whichever way the task ends. On Airflow
    3.3+ a retry sends only the chunks earlier tries did not apply.

    With ``cvid`` (optionally ``territory_id``) instead of ``ids``, Zoho updates a custom view's records
    (up to 50,000) as a background job: the job id is pushed under the XCom key ``job_id`` at once, the
    task waits by polling (or defers to a poll-only trigger with ``deferrable=True``), and the summary
    carries Zoho's counts; ``records`` stays empty since Zoho reports no per-record results. On Airflow
    3.3+ a retry after a crash resumes the same job. ``dry_run=True`` (ids mode) reads the target
    fields instead of writing, and reports each id as ``would_update``, ``unchanged`` or ``not_found``.

    :param module: Zoho module API name (``Leads``, ``Contacts``...). Templated.
    :param data: field API name -> value to set, e.g. ``{"Lead_Status": "Contacted"}``. Templated.
    :param ids: record ids: a list (str or int), an ``XComArg``, or text rendering to a JSON list, a
        Python list or comma/newline-separated ids. Duplicates are dropped. Templated.
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
        batch_size: int = MAX_IDS_PER_CALL,
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
            return self._refuse(context, f"invalid input, nothing was sent to Zoho: {err}")
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
            summary = summarize(inputs.module, self._mode(), [])
            return conclude(context, summary, [], decision, push=self.do_xcom_push)
        if self.is_dry_run:
            hook = self._connected_hook(context, inputs.ids)
            return run_dry_run(
                context,
                hook,
                module=inputs.module,
                data=inputs.data,
                ids=inputs.ids,
                over_write=bool(self.over_write),
                push=self.do_xcom_push,
            )
        return self._run_ids(context, inputs)

    def _job_settings(self, inputs: CheckedInputs, view: ViewTarget) -> JobSettings:
        """Return the job-mode settings (raises :class:`InputError`)."""
        poll_interval, timeout = check_timing(self.poll_interval, self.timeout)
        return JobSettings(
            module=inputs.module,
            data=inputs.data,
            target=view,
            over_write=bool(self.over_write),
            overrides=inputs.overrides,
            policy=inputs.policy,
            zoho_conn_id=self.zoho_conn_id,
            poll_interval=poll_interval,
            timeout=timeout,
            push=self.do_xcom_push,
        )

    def _run_job(self, context: Context, inputs: CheckedInputs, view: ViewTarget) -> Summary:
        """Schedule (or resume) a custom view job, wait for it (here or deferred) and conclude."""
        try:
            settings = self._job_settings(inputs, view)
        except InputError as err:
            return self._refuse(context, f"invalid input, nothing was sent to Zoho: {err}")
        hook = self._connected_hook(context, [])

        def defer(trigger: ZohoCRMMassUpdateJobTrigger, timeout: timedelta | None) -> None:
            self.defer(trigger=trigger, method_name="execute_complete", timeout=timeout)

        return run_job(context, settings, hook, defer=defer if self.deferrable else None)

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
            return self._refuse(context, f"invalid input after the deferral: {err}")
        return complete_job(context, settings, event)

    def _connected_hook(self, context: Context, ids: list[str]) -> ZohoCRMHook:
        """Return the hook with its connection resolved, or end the task (still pushing XComs)."""
        try:
            hook = self.hook
            hook.get_conn()  # resolve the connection once, here, before calls fan out to threads
        except Exception as err:
            # bad settings fail the task; anything else (e.g. a connection not found yet) is retryable
            reason = f"connection {self.zoho_conn_id!r} is not usable: {err}"
            final = isinstance(err, (ValueError, TypeError))
            self._refuse(context, reason, ids, retryable=None if final else err)
            raise  # not reached: _refuse always raises
        save_link_target(context, hook, str(self.module), ids, self.cvid)
        return hook

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """
        Return the OpenLineage output (the module, with the run's counts), from the task's XComs.

        :param task_instance: the finished task instance.
        """
        from airflow_crm_provider.operators._lineage import lineage_on_complete

        return lineage_on_complete(task_instance)

    def _refuse(
        self,
        context: Context,
        reason: str,
        ids: list[str] | None = None,
        *,
        retryable: BaseException | None = None,
    ) -> Summary:
        """End the task as failed before any mass update call, still pushing both XComs."""
        if ids is None:
            ids = requested_ids(self.ids)
        records = build_records(ids, {}, missing_message=f"not sent: {reason}")
        summary = summarize(str(self.module), self._mode(), records)
        decision = Decision("failed", reason)
        return conclude(context, summary, records, decision, push=self.do_xcom_push, retryable=retryable)

    def _run_ids(self, context: Context, inputs: CheckedInputs) -> Summary:
        """Send the ids in chunks, then conclude (ids mode)."""
        module, data, ids, plan = inputs.module, inputs.data, inputs.ids, inputs.plan
        hook = self._connected_hook(context, ids)
        ledger = ChunkLedger.from_context(context, module, data, self.over_write)
        self.log.info(
            "Mass update of %d %s record(s), fields %s: chunks of up to %d ids, %d call(s) at a time",
            len(ids),
            module,
            sorted(data),
            plan.batch_size,
            plan.max_concurrency,
        )
        over_write = bool(self.over_write)

        def send(chunk: list[str]) -> list[ZohoEntry]:
            return hook.mass_update(module, data, ids=chunk, over_write=over_write)

        run = run_ids_mode(send, ids, plan, ledger, inputs.overrides)
        self.log.info(
            "%d mass update call(s) made; %d id(s) resumed from earlier tries", run.calls, run.resumed
        )
        records = build_records(ids, run.entries, inputs.overrides)
        summary = summarize(module, "ids", records)
        request_error = run.request_error.describe() if run.request_error is not None else None
        decision = decide(summary, inputs.policy, request_error=request_error)
        retryable = run.stop_error if request_error is None else None
        if retryable is None:
            ledger.clear()  # a final outcome: clearing the task later re-sends everything
        return conclude(context, summary, records, decision, push=self.do_xcom_push, retryable=retryable)


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
