"""
What every Zoho CRM write operator shares: the hook, the task's saved state, refusals, the one way a run ends.

The operators and this base are the only code that touches the task context. The runners of
:mod:`airflow_crm_provider.runs` know nothing of Airflow and hand back a
:class:`~airflow_crm_provider.runs.outcomes.RunResult`, which :meth:`ZohoCRMBaseOperator._conclude`
pushes to XCom before it ends the task.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.sdk import BaseOperator

from airflow_crm_provider.deprecations import renamed_conn_id
from airflow_crm_provider.operators.links import LINK_TARGET_KEY, ZohoCRMLink, save_link_target
from airflow_crm_provider.runs.collector import collection_paused
from airflow_crm_provider.runs.credit_floor import check_floor, floor_at_start
from airflow_crm_provider.runs.guarded_reads import reads_within
from airflow_crm_provider.runs.ids_runner import IdsSettings
from airflow_crm_provider.runs.inputs import CheckedInputs, check_inputs
from airflow_crm_provider.runs.ledger import TaskState
from airflow_crm_provider.runs.outcomes import (
    UNCONFIRMED,
    Decision,
    RunResult,
    build_records,
    error_entry,
    format_report,
    summarize,
)
from airflow_crm_provider.runs.policy import InputError, check_policy
from airflow_crm_provider.runs.preflight import preflight, preflight_failure
from airflow_crm_provider.runs.prior import read_failure, read_prior
from airflow_crm_provider.version_compat import (
    AIRFLOW_V_3_3_PLUS,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSkipException,
)
from airflow_crm_provider.zoho.credits import MASS_UPDATE_KIND
from airflow_crm_provider.zoho.errors import is_final
from airflow_crm_provider.zoho.settings import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook
    from airflow_crm_provider.runs.ledger import PriorLedger
    from airflow_crm_provider.runs.outcomes import Mode, Summary
    from airflow_crm_provider.runs.policy import RunPolicy
    from airflow_crm_provider.runs.prior import PriorValues
    from airflow_crm_provider.runs.rows_inputs import CheckedRows
    from airflow_crm_provider.zoho.calls import WriteAction

log = logging.getLogger(__name__)


class ZohoCRMBaseOperator(BaseOperator):
    """
    Base of the operators that write to Zoho CRM and report every record.

    :param zoho_crm_conn_id: the ``zoho_crm`` connection (``zoho_conn_id``: its deprecated former
        name). Templated.
    :param batch_size: ids per call, at most the action's limit (the default: 500 for a mass update).
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
    :param min_credits_remaining: refuse to start, or to send another chunk, when Zoho says fewer of
        the org's API credits remain (None: no floor). Before the first write one cheap call
        (``GET org``) learns them; no ``X-API-CREDITS-REMAINING`` means more than half remain.
    :param preflight: before the first write, read the module's field metadata once (one API credit)
        and refuse unknown field names, fields the write cannot set and picklist values not in the
        field's list. Needs the scope ``ZohoCRM.settings.fields.READ``; ``False`` skips the check.
    :param hook_params: extra ``ZohoCRMHook`` arguments (``max_attempts``, ``max_retry_wait``,
        ``backoff_base``, ``max_token_wait``), for the worker and, after a deferral, the trigger.
    """

    ui_color = "#e42527"
    operator_extra_links = (ZohoCRMLink(),)
    #: The Zoho write action the runs send (its batch limit and call kind).
    action: ClassVar[WriteAction]
    #: What the run is, in messages and reports (``"mass update"``, ``"revert"``).
    _what: ClassVar[str]
    #: Whether this try saved the extra link's target (else :meth:`_conclude` saves an empty one).
    _link_saved = False

    def __init__(
        self,
        *,
        zoho_crm_conn_id: str = DEFAULT_CONN_ID,
        batch_size: int | None = None,
        max_concurrency: int = IdsSettings.max_concurrency,
        error_policy: dict[str, str] | None = None,
        max_failed_records: int = 0,
        max_skipped_ratio: float = 1.0,
        soft_fail: bool = True,
        locked_retries: int = IdsSettings.locked_retries,
        locked_retry_delay: float = IdsSettings.locked_retry_delay,
        min_credits_remaining: int | None = None,
        preflight: bool = True,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        zoho_crm_conn_id = renamed_conn_id(zoho_crm_conn_id, kwargs, default=DEFAULT_CONN_ID)
        super().__init__(**kwargs)
        self.zoho_crm_conn_id = zoho_crm_conn_id
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.error_policy = error_policy
        self.max_failed_records = max_failed_records
        self.max_skipped_ratio = max_skipped_ratio
        self.soft_fail = soft_fail
        self.locked_retries = locked_retries
        self.locked_retry_delay = locked_retry_delay
        self.min_credits_remaining = min_credits_remaining
        self.preflight = preflight
        self.hook_params = hook_params or {}

    @cached_property
    def hook(self) -> ZohoCRMHook:
        """The Zoho CRM hook (imported here, so parsing a DAG file stays cheap)."""
        from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook

        return ZohoCRMHook(self.zoho_crm_conn_id, **self.hook_params)

    def execute(self, context: Context) -> Summary:
        """
        Run the operator (:meth:`_execute`); whichever way it ends, the summary and records are pushed.

        An error that escapes the run before it concluded still ends with one record per requested
        id: ``NOT_SENT`` if no write was sent, else ``UNCONFIRMED`` (Zoho may have applied it).
        """
        self._concluded = False
        try:
            return self._execute(context)
        except Exception as err:
            if self._concluded:
                raise
            self._conclude(context, self._unexpected(err))
            raise  # not reached: the conclusion raises ``err``

    def _execute(self, context: Context) -> Summary:
        """Validate, run and conclude (each operator's own)."""
        raise NotImplementedError

    def _unexpected(self, err: Exception) -> RunResult:
        """Return the run that ``err`` ended before it concluded (Airflow retries apply)."""
        reason = f"the task stopped on an unexpected error ({type(err).__name__}: {err})"
        result = self._refusal(reason, retryable=err)
        if "hook" not in self.__dict__ or not self.hook.writes_sent:
            return result
        message = f"{reason} after a write was sent: Zoho may have applied it"
        entries = {r["id"]: error_entry(r["id"], UNCONFIRMED, message) for r in result.records}
        result.records = build_records(list(entries), entries)
        result.summary = summarize(self._module_name(), self._mode(), result.records)
        return result

    def _mode(self) -> Mode:
        """Return the summary's ``mode``."""
        raise NotImplementedError

    def _module_name(self) -> str:
        """Return the module the run writes, as given (for refusals, before validation)."""
        raise NotImplementedError

    def _requested_ids(self) -> list[str]:
        """Return the ids a refusal reports, before (or without) validation."""
        raise NotImplementedError

    def _policy(self) -> RunPolicy:
        """Validate the error policy, thresholds, credit floor and sending (raises :class:`InputError`)."""
        check_floor(self.min_credits_remaining)
        return check_policy(
            error_policy=self.error_policy,
            max_failed_records=self.max_failed_records,
            max_skipped_ratio=self.max_skipped_ratio,
            soft_fail=self.soft_fail,
            batch_size=self.batch_size,
            batch_limit=self.action.batch_limit,
            max_concurrency=self.max_concurrency,
            locked_retries=self.locked_retries,
            locked_retry_delay=self.locked_retry_delay,
        )

    def _check_inputs(self, *, module: Any, data: Any, ids: Any) -> CheckedInputs:
        """Validate what the run writes and how it sends (raises :class:`InputError`)."""
        return check_inputs(module=module, data=data, ids=ids, policy=self._policy())

    def _task_state(self, context: Context, without: str) -> TaskState:
        """Return this task instance's state across tries, saying what a retry does without one."""
        state = TaskState(context.get("task_state_store"))
        if not state.enabled:
            where = "is not in the context" if AIRFLOW_V_3_3_PLUS else "does not exist before Airflow 3.3"
            # it matters only to a retry: a task without retries is told at info level, not warned
            level = logging.WARNING if self.retries else logging.INFO
            self.log.log(level, "task_state_store %s: %s", where, without)
        return state

    def _connected_hook(self, context: Context, module: str, ids: list[str], cvid: Any = None) -> ZohoCRMHook:
        """Return the hook with its connection resolved, or end the task (still pushing XComs)."""
        try:
            hook = self.hook
            hook.get_conn()  # resolve the connection once, here, before calls fan out to threads
            hook.check_credentials()  # a wrong secret or a revoked refresh token fails before any call
        except Exception as err:
            # a missing connection, bad settings or refused credentials fail the task; anything else
            # (the accounts server unreachable, the mint throttle) is retryable
            reason = f"connection {self.zoho_crm_conn_id!r} is not usable: {err}"
            final = isinstance(err, (ValueError, TypeError, AirflowNotFoundException)) or is_final(err)
            self._refuse(context, reason, ids, retryable=None if final else err)
        save_link_target(context["ti"], hook, module, ids, cvid)
        self._link_saved = True
        return hook

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """
        Return the OpenLineage output (the module, with the run's counts), from the task's XComs.

        :param task_instance: the finished task instance.
        """
        from airflow_crm_provider.operators.lineage import lineage_on_complete

        return lineage_on_complete(task_instance)

    def _read_first(
        self, hook: ZohoCRMHook, inputs: CheckedInputs | CheckedRows, fields: list[str], ledger: PriorLedger
    ) -> PriorValues | RunResult:
        """
        Read the target fields of every id before any write (kept in ``ledger`` for a retry).

        :return: what the records hold, or the refusal to conclude with if reading failed (nothing
            was written, so every id is ``NOT_SENT``).
        """
        try:
            return read_prior(
                reads_within(hook, self.min_credits_remaining),
                inputs.module,
                inputs.ids,
                fields,
                ledger,
                max_concurrency=inputs.sending.max_concurrency,
            )
        except Exception as err:
            reason, retryable = read_failure(err)
            return self._refusal(reason, inputs.ids, retryable=retryable)

    def _preflight(
        self,
        context: Context,
        hook: ZohoCRMHook,
        module: str,
        values: Mapping[str, Iterable[Any]],
        ids: list[str],
    ) -> None:
        """End the task before the first write if the field metadata refuses ``values`` (if ``preflight``)."""
        if not self.preflight:
            return
        try:
            preflight(
                hook,
                module,
                values,
                mass_update=self.action.kind == MASS_UPDATE_KIND,
                floor=self.min_credits_remaining,
            )
        except InputError as err:
            self._refuse_input(context, err)
        except Exception as err:
            reason, retryable = preflight_failure(err)
            self._refuse(context, reason, ids, retryable=retryable)

    def _refuse_input(self, context: Context, err: InputError, *, after_deferral: bool = False) -> NoReturn:
        """End the task on an unusable argument, before (or, rendered again, after) any call."""
        when = " after the deferral" if after_deferral else ", nothing was sent to Zoho"
        self._refuse(context, f"invalid input{when}: {err}")

    def _refuse_below_floor(
        self, context: Context, hook: ZohoCRMHook, ids: list[str], *, unsent: str = "nothing was sent to Zoho"
    ) -> None:
        """End the task before the first write if fewer credits remain than ``min_credits_remaining``."""
        short = floor_at_start(hook, self.min_credits_remaining)
        if short is not None:
            self._refuse(context, f"{unsent}: {short}", ids)

    def _refuse(
        self,
        context: Context,
        reason: str,
        ids: list[str] | None = None,
        *,
        retryable: BaseException | None = None,
    ) -> NoReturn:
        """End the task as failed (or retryable) before any write, pushing the XComs."""
        self._conclude(context, self._refusal(reason, ids, retryable=retryable))
        raise AssertionError("a refusal always ends the task")  # not reached: _conclude raises

    def _refusal(
        self, reason: str, ids: list[str] | None = None, *, retryable: BaseException | None = None
    ) -> RunResult:
        """Return a run that ended as failed before any write (every id still gets a record)."""
        if ids is None:
            ids = self._requested_ids()
        records = build_records(ids, {}, missing_message=f"not sent: {reason}")
        summary = summarize(self._module_name(), self._mode(), records)
        return RunResult(summary, records, Decision("failed", reason), retryable=retryable, final=False)

    def _conclude(self, context: Context, result: RunResult, state: TaskState | None = None) -> Summary:
        """
        Log the report, push the XComs, forget the saved state if final, then end the task.

        The summary (``return_value``), ``records`` and, if taken, ``snapshot`` are pushed before any
        exception is raised, so ``all_done`` downstream tasks and callbacks can read them whichever
        way the task ends.

        :param context: the task context (its ``ti`` pushes the XComs).
        :param result: what the runner returned.
        :param state: the task's saved state, forgotten once the outcome is final and pushed.
        :return: the summary, on success (Airflow pushes it as ``return_value``).
        :raises AirflowFailException: the decision is ``failed`` (no Airflow retries).
        :raises AirflowSkipException: the decision is ``skipped``.
        """
        self._concluded = True
        summary, records, decision, retryable = (
            result.summary,
            result.records,
            result.decision,
            result.retryable,
        )
        outcome = "failed" if retryable is not None else decision.outcome
        if "hook" in self.__dict__:  # the hook was made (not for an input refusal, nor after a deferral)
            summary["calls"], summary["credits_remaining"] = (
                self.hook.credits.calls,
                self.hook.credits.remaining,
            )
        summary["outcome"] = outcome
        summary["reason"] = str(retryable) if retryable is not None else decision.reason
        if retryable is None and outcome != "success":
            # first, and outside Airflow's collapsed "Post Execute" group that logs the exception
            log.info("Zoho CRM %s of %s %s: %s", self._what, summary["module"], outcome, decision.reason)
        log.info("%s", format_report(summary, records, what=self._what))
        ti = context["ti"]
        with collection_paused():  # Airflow serializes each record into new dicts: no full collections
            if not self._link_saved:  # an empty target: the link (and lineage) read it without a "not found"
                ti.xcom_push(key=LINK_TARGET_KEY, value=None)
            if self.do_xcom_push:
                if result.snapshot is not None:
                    ti.xcom_push(key="snapshot", value=result.snapshot)
                ti.xcom_push(key="records", value=list(records))
                if outcome != "success":
                    ti.xcom_push(key="return_value", value=summary)
        if state is not None and result.final:
            state.clear()  # only now: the outcome is recorded, so a crash before this resumes the run
        module = summary["module"]
        if retryable is not None:
            self.log.error(
                "Zoho CRM %s stopped by a transient error; Airflow retries apply: %s", self._what, retryable
            )
            raise retryable
        if outcome == "failed":
            raise AirflowFailException(f"Zoho CRM {self._what} of {module} failed: {decision.reason}")
        if outcome == "skipped":
            raise AirflowSkipException(f"Zoho CRM {self._what} of {module} skipped: {decision.reason}")
        log.info("Zoho CRM %s of %s succeeded: %s", self._what, module, decision.reason)
        return summary
