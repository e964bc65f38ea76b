"""
What the per-record operators (Update Records, Upsert) share: ``rows`` from a list, an XCom or SQL.

``rows`` is a list of ``{field: value}`` mappings (or an ``XComArg``, or its JSON text); with ``sql``
and ``conn_id`` the rows are read through the connection's common-sql hook, one mapping per result
row keyed by column name. SQL types JSON cannot carry are converted: a whole ``Decimal`` to ``int``,
another to ``float``, dates and times to ISO text.
"""

from __future__ import annotations

import datetime
import decimal
from contextlib import closing
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.operators.base import ZohoCRMBaseOperator
from airflow_crm_provider.runs.policy import InputError
from airflow_crm_provider.runs.rows import requested_rows

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_crm_provider.runs.outcomes import Mode


def _json_value(value: Any) -> Any:
    """Return a SQL value as JSON can carry it."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return value.isoformat()
    return value


def read_sql_rows(conn_id: str, sql: str, parameters: Any = None) -> list[dict[str, Any]]:
    """
    Read ``sql`` through the common-sql hook of ``conn_id``: one ``{column: value}`` per result row.

    :param conn_id: an Airflow connection whose hook is a common-sql ``DbApiHook``.
    :param sql: one query; its column names are the field API names (and ``id``).
    :param parameters: the query's parameters.
    :raises InputError: the connection's hook is not a SQL hook.
    """
    from airflow.sdk import BaseHook

    hook = BaseHook.get_hook(conn_id)
    if not hasattr(hook, "get_conn"):
        raise InputError(f"connection {conn_id!r} has no SQL hook (common-sql) to read rows with")
    with closing(hook.get_conn()) as conn, closing(conn.cursor()) as cursor:
        cursor.execute(sql, parameters) if parameters is not None else cursor.execute(sql)
        columns = [str(d[0]) for d in cursor.description or ()]
        return [{c: _json_value(v) for c, v in zip(columns, row, strict=True)} for row in cursor.fetchall()]


class ZohoCRMRowsOperator(ZohoCRMBaseOperator):
    """
    Base of the operators that write a value per record, from ``rows`` or from a SQL query.

    :param module: Zoho module API name. Templated.
    :param rows: ``[{"id": ..., field API name: value, ...}, ...]``, an ``XComArg``, or text rendering
        to such a list. Templated. Not with ``sql``.
    :param sql: a query whose columns are ``id`` and field API names, read through ``conn_id``.
        Templated.
    :param conn_id: the SQL connection ``sql`` runs on (any common-sql hook). Templated.
    :param parameters: the query's parameters.
    :param trigger: the automation Zoho runs: ``None`` (default) sends none, so Zoho runs all of it
        (workflow, approval, blueprint...) as it documents; ``[]`` runs none; or a list of
        ``workflow``, ``approval``, ``blueprint``, ``pathfinder``, ``orchestration``.

    Also takes the arguments of :class:`~airflow_crm_provider.operators.base.ZohoCRMBaseOperator`.
    """

    template_fields: Sequence[str] = ("module", "rows", "sql", "conn_id", "zoho_crm_conn_id")
    template_fields_renderers = {"rows": "py", "sql": "sql"}

    def __init__(
        self,
        *,
        module: str,
        rows: Any = None,
        sql: str | None = None,
        conn_id: str | None = None,
        parameters: Any = None,
        trigger: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.module = module
        self.rows = rows
        self.sql = sql
        self.conn_id = conn_id
        self.parameters = parameters
        self.trigger = trigger

    def _mode(self) -> Mode:
        return "ids"

    def _module_name(self) -> str:
        return str(self.module)

    def _requested_ids(self) -> list[str]:
        return requested_rows(self.rows)

    def _source_rows(self, context: Context) -> Any:
        """
        Return the rows as given, or as ``sql`` reads them (then kept in ``self.rows`` for refusals).

        :raises InputError: both or neither of ``rows`` and ``sql``, or ``sql`` without ``conn_id``.
        """
        if self.sql is None:
            return self.rows
        if self.rows is not None:
            raise InputError("give rows or sql, not both")
        if not self.conn_id:
            raise InputError("sql needs conn_id: the connection the query runs on")
        try:
            self.rows = read_sql_rows(str(self.conn_id), str(self.sql), self.parameters)
        except InputError:
            raise
        except Exception as err:  # the database may be back on a retry: nothing was sent to Zoho
            reason = f"reading rows with sql on {self.conn_id!r} failed, nothing was sent to Zoho: {err}"
            self._refuse(context, reason, [], retryable=err)
        self.log.info("Read %d row(s) from %r", len(self.rows), self.conn_id)
        return self.rows
