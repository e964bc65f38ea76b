"""
The CRM calls this client makes, each built by a named builder, and the plan that runs one.

A builder returns a :class:`Call` that carries its path, body, reply parser and call kind (what the
credit meter counts), so nothing reads a path back. A :class:`WriteAction` describes a batched
write API once (path, batch limit, call kind, parser, whether it may be re-sent); the write engine
(:mod:`airflow_crm_provider.runs`) works from it. :func:`api_call` plans one call: token, retries of
transient failures, and the refresh-once-and-replay rule; the drivers of
:mod:`~airflow_crm_provider.zoho.http` run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_crm_provider.zoho import record_writes
from airflow_crm_provider.zoho.api import (
    check_reply,
    parse_current_user,
    parse_job_id,
    parse_job_status,
    parse_mass_update,
    parse_org,
    parse_records,
)
from airflow_crm_provider.zoho.credits import (
    MASS_UPDATE_KIND,
    METADATA_KIND,
    OTHER_KIND,
    READ_KIND,
    STATUS_KIND,
    UPDATE_RECORDS_KIND,
    UPSERT_KIND,
)
from airflow_crm_provider.zoho.errors import TokenRejected, ZohoAuthError, ZohoCRMError, ZohoTransientError
from airflow_crm_provider.zoho.http import FetchToken, Send, TokenAccepted
from airflow_crm_provider.zoho.metadata import parse_fields, parse_modules
from airflow_crm_provider.zoho.retries import retrying
from airflow_crm_provider.zoho.settings import (
    MAX_GET_RECORD_IDS,
    MAX_MASS_UPDATE_IDS,
    MAX_RECORDS_PER_WRITE,
    module_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from airflow_crm_provider.zoho.api import JobStatus, ZohoEntry
    from airflow_crm_provider.zoho.http import Plan, Reply, Token
    from airflow_crm_provider.zoho.metadata import FieldMeta
    from airflow_crm_provider.zoho.record_writes import UpsertEntry
    from airflow_crm_provider.zoho.retries import Retries
    from airflow_crm_provider.zoho.settings import ZohoConnectionSettings

    #: ``observe(kind, credits_remaining, error)``: see
    #: :meth:`~airflow_crm_provider.zoho.credits.CreditMeter.observe`.
    ReplyObserver = Callable[[str, int | None, ZohoCRMError | None], None]

T = TypeVar("T")
E = TypeVar("E", bound="ZohoEntry")

#: Replays of one call with a newer token after a token that had worked went stale (expired,
#: evicted, revoked) mid-call; past this the call ends as retryable, never as a permanent failure.
MAX_TOKEN_REPLAYS = 4


@dataclass(frozen=True)
class Call(Generic[T]):
    """
    One CRM API call, described: what to send, how to read the reply, what kind of call it is.

    :param kind: what the credit meter counts it as (one of :data:`~.credits.CALL_KINDS`).
    :param method: HTTP method.
    :param path: path under ``/crm/<version>/``.
    :param parse: ``(body, status) -> result``; raises for request-level errors.
    :param params: query parameters.
    :param json: JSON body.
    :param resendable: whether a request that may have reached Zoho can be sent again.
    """

    kind: str
    method: str
    path: str
    parse: Callable[[Any, int], T]
    params: Mapping[str, str] | None = None
    json: Any = None
    resendable: bool = True


@dataclass(frozen=True)
class WriteAction(Generic[E]):
    """
    A Zoho CRM write API that takes records in batches and answers one ``data[]`` entry per record.

    The write engine (:mod:`airflow_crm_provider.runs`) plans, sends, counts and reports a run through
    this description, so a new write API is a new value here, not new words there.

    :param title: the action in messages and reports, e.g. ``"mass update"``.
    :param kind: the call kind the credit meter counts its calls as.
    :param method: HTTP method.
    :param path: module API name -> path under ``/crm/<version>/``.
    :param batch_limit: records per call (Zoho's limit; the default batch size).
    :param parse: ``(ids sent, body, status) -> one entry per record`` (an id is None where a record
        was sent without one, as an upsert may be).
    :param resendable: whether a call that may have reached Zoho (its reply lost) may be sent again;
        the same body gives the same result, so the client's retries and a task retry re-send it.
    """

    title: str
    kind: str
    method: str
    path: Callable[[str], str]
    batch_limit: int
    parse: Callable[[list[str | None], Any, int], list[E]]
    resendable: bool = True

    def call(
        self, module: str, body: Mapping[str, Any], sent_ids: list[str | None], *, resendable: bool = True
    ) -> Call[list[E]]:
        """
        Return the call that sends one batch to ``module``.

        :param module: module API name.
        :param body: the JSON body.
        :param sent_ids: each record's id as sent, in order (None where one has none).
        :param resendable: False when this body may not be re-sent although the action may.
        :raises ValueError: more records than :attr:`batch_limit`, or not a module API name.
        """
        if len(sent_ids) > self.batch_limit:
            raise ValueError(
                f"{self.title} takes at most {self.batch_limit} records per call, got {len(sent_ids)}"
            )
        path = self.path(module_name(module))
        parse = partial(self.parse, sent_ids)
        return Call(self.kind, self.method, path, parse, json=body, resendable=self.resendable and resendable)


def _mass_update_path(module: str) -> str:
    return f"{module}/actions/mass_update"


def _parse_mass_update(sent_ids: list[str | None], body: Any, status: int) -> list[ZohoEntry]:
    return parse_mass_update(body, status)  # each entry names its record (details.id)


#: Mass Update by ids: the same value(s) on up to 500 records, applied at once.
MASS_UPDATE: WriteAction[ZohoEntry] = WriteAction(
    title="mass update",
    kind=MASS_UPDATE_KIND,
    method="POST",
    path=_mass_update_path,
    batch_limit=MAX_MASS_UPDATE_IDS,
    parse=_parse_mass_update,
)
#: Update Records: a value per record on up to 100 records (``PUT /{module}``), applied at once.
UPDATE_RECORDS: WriteAction[ZohoEntry] = WriteAction(
    title="update records",
    kind=UPDATE_RECORDS_KIND,
    method="PUT",
    path=record_writes.update_records_path,
    batch_limit=MAX_RECORDS_PER_WRITE,
    parse=record_writes.parse_update_records,
)
#: Upsert Records: insert or update up to 100 records, matched on duplicate check fields.
UPSERT: WriteAction[UpsertEntry] = WriteAction(
    title="upsert",
    kind=UPSERT_KIND,
    method="POST",
    path=record_writes.upsert_path,
    batch_limit=MAX_RECORDS_PER_WRITE,
    parse=record_writes.parse_upsert,
)


def _id_list(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str):
        raise ValueError("ids must be a sequence of record ids, not a string")
    return [str(i) for i in ids]


def mass_update_call(
    module: str, data: Mapping[str, Any], ids: Sequence[str], over_write: bool = False
) -> Call[list[ZohoEntry]]:
    """Return the mass update of up to 500 ids (see :meth:`ZohoCRMHook.mass_update`)."""
    sent: list[str | None] = list(_id_list(ids))
    body = {"data": [dict(data)], "ids": sent, "over_write": bool(over_write)}
    return MASS_UPDATE.call(module, body, sent)


def update_records_call(
    module: str, rows: Sequence[Mapping[str, Any]], trigger: Sequence[str] | None = None
) -> Call[list[ZohoEntry]]:
    """Return the Update Records call of up to 100 rows (see :meth:`ZohoCRMHook.update_records`)."""
    body, sent_ids = record_writes.update_request(rows, trigger)
    return UPDATE_RECORDS.call(module, body, sent_ids)


def upsert_call(
    module: str,
    rows: Sequence[Mapping[str, Any]],
    duplicate_check_fields: Sequence[str],
    trigger: Sequence[str] | None = None,
) -> Call[list[UpsertEntry]]:
    """Return the Upsert call of up to 100 rows, re-sendable only when a re-send cannot insert twice."""
    body, sent_ids, resendable = record_writes.upsert_request(rows, duplicate_check_fields, trigger)
    return UPSERT.call(module, body, sent_ids, resendable=resendable)


def mass_update_job_call(
    module: str,
    data: Mapping[str, Any],
    cvid: str,
    territory_id: str | None = None,
    include_child: bool = False,
    over_write: bool = False,
) -> Call[str]:
    """Return the call that schedules a custom view's mass update job; never re-sent (a second job)."""
    body: dict[str, Any] = {"data": [dict(data)], "cvid": str(cvid), "over_write": bool(over_write)}
    if territory_id:
        body["territory"] = {"id": str(territory_id), "include_child": bool(include_child)}
    path = _mass_update_path(module_name(module))
    return Call(MASS_UPDATE_KIND, "POST", path, parse_job_id, json=body, resendable=False)


def job_status_call(module: str, job_id: str) -> Call[JobStatus]:
    """Return the status request of a mass update job."""
    parse = partial(parse_job_status, str(job_id))
    path = _mass_update_path(module_name(module))
    return Call(STATUS_KIND, "GET", path, parse, params={"job_id": str(job_id)})


def records_call(module: str, ids: Sequence[str], fields: Sequence[str]) -> Call[dict[str, dict[str, Any]]]:
    """Return the read of up to 100 records by id, ``fields`` only."""
    ids = _id_list(ids)
    if len(ids) > MAX_GET_RECORD_IDS:
        raise ValueError(f"a record read takes at most {MAX_GET_RECORD_IDS} ids, got {len(ids)}")
    params = {"ids": ",".join(ids), "fields": ",".join(fields)}
    return Call(READ_KIND, "GET", module_name(module), parse_records, params=params)


def fields_call(module: str) -> Call[dict[str, FieldMeta]]:
    """Return ``GET settings/fields?module=``: a module's field metadata (scope :data:`FIELDS_SCOPE`)."""
    return Call(METADATA_KIND, "GET", "settings/fields", parse_fields, params={"module": module_name(module)})


def modules_call() -> Call[list[str]]:
    """Return ``GET settings/modules``: the org's module API names (scope :data:`MODULES_SCOPE`)."""
    return Call(METADATA_KIND, "GET", "settings/modules", parse_modules)


#: The scopes ``GET org`` and ``GET users`` need (a token without them is refused).
ORG_SCOPE = "ZohoCRM.org.READ"
USERS_SCOPE = "ZohoCRM.users.READ"
#: The scopes the preflight's metadata reads need (``ZohoCRM.settings.ALL`` covers both).
FIELDS_SCOPE = "ZohoCRM.settings.fields.READ"
MODULES_SCOPE = "ZohoCRM.settings.modules.READ"


def org_call() -> Call[dict[str, Any]]:
    """Return ``GET org``: one cheap call (its reply tells the credits once half are used)."""
    return Call(OTHER_KIND, "GET", "org", parse_org)


def current_user_call() -> Call[str]:
    """Return ``GET users?type=CurrentUser``: who the connection acts as."""
    return Call(OTHER_KIND, "GET", "users", parse_current_user, params={"type": "CurrentUser"})


def request_headers(settings: ZohoConnectionSettings, token: Token) -> dict[str, str]:
    """Return the headers of an API call: the only place a token goes is ``Authorization``."""
    return {"Authorization": f"{settings.auth_scheme} {token.value}"}


def api_call(
    settings: ZohoConnectionSettings,
    retries: Retries,
    call: Call[T],
    *,
    observe: ReplyObserver | None = None,
) -> Plan[T]:
    """
    Plan one CRM API call: token, retries of transient failures, a newer token when one is refused.

    At most :data:`MAX_TOKEN_REPLAYS` replays with newer tokens; the token source decides when a
    refusal is permanent (see :class:`~airflow_crm_provider.zoho.auth.RefreshTokenSource`).

    :param settings: the connection.
    :param retries: how often and how long to retry.
    :param call: what to send and how to read the reply.
    :param observe: sees every reply, with its call kind and the error it became (the credit meter).
    """
    rejected: str | None = None
    cause: ZohoCRMError | None = None
    for _ in range(MAX_TOKEN_REPLAYS + 1):
        token = yield FetchToken(rejected, cause)
        url = f"{settings.api_base(token.api_domain)}/crm/{settings.api_version}/{call.path}"
        send = Send(
            call.method,
            url,
            params=call.params,
            json=call.json,
            headers=request_headers(settings, token),
            resendable=call.resendable,
        )
        answered: list[bool] = []  # an attempt got a reply that did not refuse the token (a 500, say)

        def interpret(reply: Reply, answered: list[bool] = answered) -> T:
            error: ZohoCRMError | None = None
            try:
                return call.parse(check_reply(reply), reply.status)
            except TokenRejected as exc:
                error = exc
                raise
            except ZohoCRMError as exc:
                error = exc
                answered.append(True)
                raise
            finally:
                if observe is not None:
                    observe(call.kind, reply.credits_remaining(), error)

        try:
            result = yield from retrying(retries, send, interpret)
        except ZohoCRMError as exc:
            if answered:  # Zoho answered with this token: it works, or worked before going stale
                yield TokenAccepted(token.value)
            if not isinstance(exc, TokenRejected):
                raise
            if settings.static_token:
                raise ZohoAuthError(
                    f"Zoho rejected the static access_token of connection {settings.conn_id!r} "
                    f"({exc.code}: {exc.message}); it is never refreshed: replace it, or configure "
                    "client id, secret and refresh_token instead",
                    code=exc.code,
                    details=exc.details,
                    http_status=exc.http_status,
                ) from None
            # the token source decides: a newer token (cached or minted) or, if fresh tokens keep
            # being refused before any call worked with them, a permanent ZohoAuthError
            rejected, cause = token.value, exc
            continue
        yield TokenAccepted(token.value)
        return result
    raise ZohoTransientError(
        f"Zoho refused {MAX_TOKEN_REPLAYS + 1} access tokens in a row during one call, each of which had "
        "worked before (expired, evicted or revoked while in use); Airflow retries apply",
        code="INVALID_TOKEN",
        http_status=401,
    )
