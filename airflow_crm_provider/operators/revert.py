"""Operators that undo a mass update from the snapshot it took (``snapshot=True``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_crm_provider.operators.base import ZohoCRMBaseOperator
from airflow_crm_provider.operators.update_records import WRITTEN_KEY
from airflow_crm_provider.runs import credit_floor
from airflow_crm_provider.runs.guarded_reads import reads_within
from airflow_crm_provider.runs.ids_runner import run_ids_mode
from airflow_crm_provider.runs.inputs import CheckedInputs, InputError, check_module
from airflow_crm_provider.runs.ledger import ChunkLedger, PriorLedger, fingerprint
from airflow_crm_provider.runs.outcomes import RunResult
from airflow_crm_provider.runs.prior import read_back_rows
from airflow_crm_provider.runs.revert import RevertSource, plan_revert, restore_calls, revert_result
from airflow_crm_provider.zoho.calls import MASS_UPDATE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_crm_provider.runs.outcomes import Mode, Summary


class ZohoCRMRevertMassUpdateOperator(ZohoCRMBaseOperator):
    """
    Restore the values a mass update's (or Update Records') snapshot kept, on the records it changed.

    The source task (a :class:`~airflow_crm_provider.operators.mass_update.ZohoCRMMassUpdateOperator`
    or :class:`~airflow_crm_provider.operators.update_records.ZohoCRMUpdateRecordsOperator` run with
    ``snapshot=True``, in the same DAG run) pushed its prior values under the XCom key ``snapshot``.
    Each record is read first: one that still holds what the run set gets its prior value back, in
    planned calls (Update Records with each record's prior values, 100 a call; a mass update where
    enough records share one value), with the same concurrency, error policy, thresholds and XComs
    as a forward run, ``mode`` ``revert``. A record
    already back at its prior value is ``unchanged``; one changed by someone else since the run is
    left alone with code ``CHANGED_SINCE`` (class ``soft``: skipped; ``error_policy`` may change
    that), unless ``force=True``. A retry of the task sends only what earlier tries did not restore.

    :param source_task_id: the mass update task to undo. Templated.
    :param source_map_index: its map index, if it is a mapped task.
    :param module: the module, if given checked against the source's (default: the source's).
    :param force: also restore records changed since the run (and try those no longer found).

    Also takes the arguments of :class:`~airflow_crm_provider.operators.base.ZohoCRMBaseOperator`:
    the connection, how ids are sent, the error policy, thresholds and the credit floor.
    """

    template_fields: Sequence[str] = ("source_task_id", "zoho_crm_conn_id")
    action = MASS_UPDATE
    _what = "revert"

    def __init__(
        self,
        *,
        source_task_id: str,
        source_map_index: int | None = None,
        module: str | None = None,
        force: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_task_id = source_task_id
        self.source_map_index = source_map_index
        self.module = module
        self.force = force
        self._source: RevertSource | None = None

    def _mode(self) -> Mode:
        return "revert"

    def _module_name(self) -> str:
        if self._source is not None:
            return self._source.module
        return str(self.module) if self.module else "(unknown module)"

    def _requested_ids(self) -> list[str]:
        return list(self._source.prior) if self._source is not None else []

    def _pull(self, context: Context, key: str) -> Any:
        kwargs: dict[str, Any] = {"task_ids": self.source_task_id, "key": key}
        if self.source_map_index is not None:
            kwargs["map_indexes"] = self.source_map_index
        return context["ti"].xcom_pull(**kwargs)

    def _execute(self, context: Context) -> Summary:
        """Read the source's snapshot and the records, restore the prior values, push the XComs."""
        try:
            source = RevertSource.from_xcoms(
                self.source_task_id,
                self._pull(context, "return_value"),
                self._pull(context, "snapshot"),
                self._pull(context, WRITTEN_KEY),
            )
            self._source = source
            if self.module is not None and check_module(self.module) != source.module:
                raise InputError(
                    f"module is {self.module!r} but {self.source_task_id!r} wrote {source.module!r}"
                )
            inputs = CheckedInputs(
                check_module(source.module), source.data, list(source.prior), [], self._policy()
            )
        except InputError as err:
            self._refuse_input(context, err)
        module, ids = source.module, inputs.ids
        hook = self._connected_hook(context, module, ids)
        self._refuse_below_floor(context, hook, ids)
        # the prior values were Zoho's own: only the fields are checked (a picklist may have changed since)
        self._preflight(context, hook, module, dict.fromkeys(source.data, ()), ids)
        state = self._task_state(context, "a retry of this task reads and restores every record again")
        run_key = fingerprint("revert", module, source.data, source.over_write, source.written)
        current = self._read_first(hook, inputs, source.fields, PriorLedger(state, run_key))
        if isinstance(current, RunResult):
            return self._conclude(context, current)
        plan = plan_revert(source, current, force=bool(self.force))
        calls = restore_calls(plan, module, inputs.sending.batch_size)
        self.log.info(
            "Reverting %d %s record(s) of %r: %d to restore, %d left; %s",
            len(ids),
            module,
            self.source_task_id,
            len(plan.restore),
            len(plan.left),
            calls.plan.describe(),
        )
        run = None
        if plan.restore:
            reads = reads_within(hook, self.min_credits_remaining)
            send = credit_floor.guarded(
                calls.sender(hook, module, None), hook.credits, self.min_credits_remaining
            )
            run = run_ids_mode(
                send,
                calls.ids,
                inputs.sending,
                ChunkLedger(state, run_key, calls.content),
                inputs.overrides,
                read_back=read_back_rows(reads, module=module, expected=calls.expected()),
                chunks=calls.chunks,
            )
        result = revert_result(source, plan, run, inputs.thresholds, inputs.overrides)
        result.summary["plan"] = calls.plan.summary()
        return self._conclude(context, result, state)


class LeadsRevertMassUpdateOperator(ZohoCRMRevertMassUpdateOperator):
    """:class:`ZohoCRMRevertMassUpdateOperator` for a mass update of ``Leads``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(module="Leads", **kwargs)
