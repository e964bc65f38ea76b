"""ZohoCRMHook: an Airflow connection -> the Zoho client's settings, tokens and calls."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from airflow.providers.http.hooks.http import HttpHook

from airflow_crm_provider.deprecations import renamed_conn_id
from airflow_crm_provider.hooks import _form
from airflow_crm_provider.hooks._connection_test import fields_scope_note, probe_connection
from airflow_crm_provider.zoho import calls
from airflow_crm_provider.zoho.auth import MAX_TOKEN_WAIT, token_source
from airflow_crm_provider.zoho.credits import CreditMeter
from airflow_crm_provider.zoho.errors import (
    ZohoAuthError,
    ZohoCRMError,
)
from airflow_crm_provider.zoho.http import run_async, run_sync
from airflow_crm_provider.zoho.retries import Retries
from airflow_crm_provider.zoho.settings import (
    DEFAULT_CONN_ID,
    MAX_GET_RECORD_IDS,
    ZohoConnectionSettings,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from airflow_crm_provider.zoho.api import JobStatus, ZohoEntry
    from airflow_crm_provider.zoho.auth import AccessToken, TokenSource
    from airflow_crm_provider.zoho.http import Plan
    from airflow_crm_provider.zoho.metadata import FieldMeta
    from airflow_crm_provider.zoho.record_writes import UpsertEntry

T = TypeVar("T")

#: Connection extras that configure the session as they do for ``HttpHook`` users (never headers).
_TRANSPORT_EXTRAS = ("proxies", "verify", "cert", "trust_env")
#: Token identities (:meth:`ZohoConnectionSettings.cache_key`) whose ``GET org`` Zoho refused for its
#: scope, with the error: this process does not pay a credit to be refused again.
_ORG_REFUSED: dict[str, ZohoAuthError] = {}


class _TokenAuth(requests.auth.AuthBase):
    """Puts the current access token in ``Authorization`` (for ``HttpHook.run`` callers)."""

    def __init__(self, hook: ZohoCRMHook) -> None:
        self._hook = hook

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(calls.request_headers(self._hook.settings, self._hook._tokens().get()))
        return request


class ZohoCRMHook(HttpHook):
    """
    Talk to Zoho CRM: OAuth tokens shared across processes, typed retries, parsed replies.

    An ``HttpHook`` that owns its ``requests.Session``: connection extras never become headers and the
    login is never sent as Basic auth (Zoho takes its OAuth token only, so ``auth_type`` is not used).
    What ``HttpHook`` users expect still holds: the keep-alive or custom ``adapter``, and the extras
    ``proxies``, ``verify``, ``cert`` and ``trust_env``. Every call has connect/read timeouts; 429,
    5xx, timeouts and dropped connections are retried with backoff and jitter (honouring ``Retry-After``);
    a 429 for spent API credits is not (``ZohoCreditsExhaustedError``). :attr:`credits` sees every reply.

    :param zoho_crm_conn_id: a ``zoho_crm`` connection (``zoho_conn_id``: its former, deprecated name).
    :param max_attempts: attempts per request, the first included.
    :param max_retry_wait: seconds one request may take in total, retries and waits included (the
        default rides out an outage of a minute or more).
    :param backoff_base: first backoff in seconds (doubles per attempt up to an eighth of
        ``max_retry_wait``, jittered).
    :param max_token_wait: seconds to wait out Zoho's mint throttle before failing.
    :param method: ``HttpHook``'s method for :meth:`run` callers.
    :param kwargs: the other ``HttpHook`` arguments (``tcp_keep_alive*``, ``adapter``, ``auth_type``).
    """

    conn_name_attr = "zoho_crm_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "zoho_crm"
    hook_name = "Zoho CRM"
    #: How the hook waits between attempts (tests may replace it).
    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(
        self,
        zoho_crm_conn_id: str = default_conn_name,
        *,
        max_attempts: int = Retries.max_attempts,
        max_retry_wait: float = Retries.max_wait,
        backoff_base: float = Retries.backoff_base,
        max_token_wait: float = MAX_TOKEN_WAIT,
        method: str = "POST",
        **kwargs: Any,
    ) -> None:
        zoho_crm_conn_id = renamed_conn_id(zoho_crm_conn_id, kwargs, default=self.default_conn_name)
        super().__init__(method=method, http_conn_id=zoho_crm_conn_id, **kwargs)
        self.zoho_crm_conn_id = zoho_crm_conn_id
        self.retries = Retries(max_attempts, max_retry_wait, backoff_base)
        self.max_token_wait = max_token_wait
        self._settings: ZohoConnectionSettings | None = None
        self._session: requests.Session | None = None
        self._token_source: TokenSource | None = None
        self._transport: dict[str, Any] = {}
        self._init_lock = threading.Lock()
        #: the org's API credits as Zoho's replies to this hook tell them, and its calls by kind
        self.credits = CreditMeter()
        #: write requests (any but GET) this hook began to send: they may have reached Zoho
        self.writes_sent = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(zoho_crm_conn_id={self.zoho_crm_conn_id!r})"

    @property
    def zoho_conn_id(self) -> str:
        """The connection id, by its former name (deprecated: use ``zoho_crm_conn_id``)."""
        return self.zoho_crm_conn_id

    # -- connection, session, tokens ------------------------------------------------------------

    @property
    def settings(self) -> ZohoConnectionSettings:
        """The parsed connection (fetched once; its secrets are masked in logs)."""
        if self._settings is None:
            conn = self.get_connection(self.zoho_crm_conn_id)
            extra = conn.extra_dejson
            self._transport = {key: extra[key] for key in _TRANSPORT_EXTRAS if key in extra}
            self._settings = self._remember(ZohoConnectionSettings.from_connection(conn, extra))
        return self._settings

    async def aget_settings(self) -> ZohoConnectionSettings:
        """Return :attr:`settings`, resolving the connection without blocking the event loop."""
        if self._settings is not None:
            return self._settings
        from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
        from asgiref.sync import sync_to_async

        conn = await get_async_connection(self.zoho_crm_conn_id, hook=self)
        extra = await get_async_extra_dejson(conn)
        settings = ZohoConnectionSettings.from_connection(conn, extra)
        return await sync_to_async(self._remember)(settings)

    def _remember(self, settings: ZohoConnectionSettings) -> ZohoConnectionSettings:
        from airflow.sdk.log import mask_secret

        for secret in settings.secrets:
            mask_secret(secret)
        self._settings = settings
        return settings

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> requests.Session:
        """
        Return the hook's own session, made once: token auth, adapters, and the transport extras.

        For ``HttpHook.run`` callers it also sets ``base_url`` (``.../crm/<version>``); the timeouts
        come from :meth:`run_and_check`.

        :param headers: not applied to the shared session (``HttpHook.run`` sends them per request).
        :param extra_options: per-request options, see :meth:`run_and_check`.
        """
        settings = self.settings
        with self._init_lock:
            if self._session is None:
                session = requests.Session()
                session.auth = _TokenAuth(self)
                adapter = self.adapter or self.keep_alive_adapter
                if adapter is not None:
                    session.mount("https://", adapter)
                    session.mount("http://", adapter)
                transport = self._transport
                session.proxies.update(transport.get("proxies") or {})
                session.verify = transport.get("verify", True)
                session.cert = transport.get("cert")
                session.trust_env = bool(transport.get("trust_env", True))
                self._session = session
        self.base_url = f"{settings.api_url}/crm/{settings.api_version}"
        return self._session

    def run_and_check(
        self,
        session: requests.Session,
        prepped_request: requests.PreparedRequest,
        extra_options: dict[Any, Any],
    ) -> Any:
        """
        ``HttpHook.run_and_check`` with the connection's timeouts and no redirects, unless overridden.

        :param session: the session.
        :param prepped_request: the prepared request.
        :param extra_options: ``HttpHook`` options (``timeout``, ``check_response``...).
        """
        options = {"timeout": self.settings.timeout, "allow_redirects": False, **(extra_options or {})}
        return super().run_and_check(session, prepped_request, options)

    def _tokens(self) -> TokenSource:
        if self._token_source is None:
            session = self.get_conn()
            with self._init_lock:
                if self._token_source is None:
                    from airflow.sdk.log import mask_secret

                    self._token_source = token_source(
                        self.settings, session, self.retries, self.max_token_wait, self._sleep, mask_secret
                    )
        return self._token_source

    def check_credentials(self) -> None:
        """
        Get a usable access token now (cached, or minted), so bad credentials fail before any CRM call.

        :raises ZohoAuthError: the accounts server refused the client or the refresh token (final).
        :raises ZohoTransientError: it could not be reached, or throttles minting (may pass).
        """
        self._tokens().get()

    def _run(self, plan: Plan[Any]) -> Any:
        return run_sync(plan, self.get_conn(), self.settings.timeout, self._tokens(), self._sleep)

    def _call(self, call: calls.Call[T]) -> T:
        if call.method != "GET":
            self.writes_sent += 1
        result: T = self._run(self._plan(self.settings, call))
        return result

    def _plan(self, settings: ZohoConnectionSettings, call: calls.Call[T]) -> Plan[T]:
        return calls.api_call(settings, self.retries, call, observe=self.credits.observe)

    # -- Zoho CRM API -----------------------------------------------------------------------------

    def mass_update(
        self, module: str, data: Mapping[str, Any], ids: Sequence[str], over_write: bool = False
    ) -> list[ZohoEntry]:
        """
        Set the same field value(s) on up to 500 records (ids mode: runs at once).

        :param module: module API name, e.g. ``Leads``.
        :param data: ``{field_api_name: value}`` applied to every record.
        :param ids: record ids (at most 500).
        :param over_write: multi-select picklists: replace (True) or append (False).
        :return: one entry per ``data[]`` entry, in Zoho's order.
        :raises ValueError: more than 500 ids (nothing is sent).
        :raises ZohoCRMError: a request-level error, or transient failures that outlasted retries.
        """
        return self._call(calls.mass_update_call(module, data, ids, over_write))

    def update_records(
        self, module: str, rows: Sequence[Mapping[str, Any]], trigger: Sequence[str] | None = None
    ) -> list[ZohoEntry]:
        """
        Set a value per record on up to 100 records (Update Records, ``PUT /crm/<version>/<module>``).

        :param module: module API name, e.g. ``Leads``.
        :param rows: ``{"id": record_id, field_api_name: value, ...}`` per record.
        :param trigger: automation to run (``record_writes.TRIGGERS``); None: Zoho runs all; ``[]``: none.
        :return: one entry per row, in input order (``id``: Zoho's, else the row's).
        :raises ValueError: bad rows or trigger (nothing is sent).
        :raises ZohoCRMError: a request-level error, or transient failures that outlasted retries.
        """
        return self._call(calls.update_records_call(module, rows, trigger))

    def upsert(
        self,
        module: str,
        rows: Sequence[Mapping[str, Any]],
        duplicate_check_fields: Sequence[str],
        trigger: Sequence[str] | None = None,
    ) -> list[UpsertEntry]:
        """
        Insert or update up to 100 records (Upsert, ``POST /crm/<version>/<module>/upsert``).

        A row with an ``id`` updates it; one without updates the record it matches on the duplicate
        check fields, or is inserted. Re-sent only if safe (see ``record_writes.upsert_request``).

        :param module: module API name.
        :param rows: ``{field_api_name: value, ...}`` per record, optionally with ``id``.
        :param duplicate_check_fields: the unique fields to match on, in order (e.g. ``["Email"]``).
        :param trigger: automation to run; None: Zoho runs all of it; ``[]`` runs none.
        :return: one entry per row, in input order: ``action`` ``insert`` or ``update`` and the ``id``.
        :raises ValueError: bad rows, fields or trigger (nothing is sent).
        :raises ZohoCRMError: a request-level error, or transient failures that outlasted retries.
        """
        return self._call(calls.upsert_call(module, rows, duplicate_check_fields, trigger))

    def mass_update_by_view(
        self,
        module: str,
        data: Mapping[str, Any],
        cvid: str,
        territory_id: str | None = None,
        include_child: bool = False,
        over_write: bool = False,
    ) -> str:
        """
        Schedule a mass update of a custom view's records (optionally one territory): a background job.

        :param module: module API name.
        :param data: ``{field_api_name: value}``.
        :param cvid: custom view id.
        :param territory_id: restrict to this territory.
        :param include_child: also child territories.
        :param over_write: multi-select picklists: replace (True) or append (False).
        :return: the job id.
        :raises ZohoRequestError: e.g. ``ALREADY_SCHEDULED`` or ``NO_RECORDS_FOUND`` (see ``.code``).
        """
        return self._call(
            calls.mass_update_job_call(module, data, cvid, territory_id, include_child, over_write)
        )

    def get_mass_update_status(self, module: str, job_id: str) -> JobStatus:
        """
        Return the status and counts of a mass update job.

        :param module: module API name.
        :param job_id: from :meth:`mass_update_by_view`.
        """
        return self._call(calls.job_status_call(module, job_id))

    async def aget_mass_update_status(self, module: str, job_id: str) -> JobStatus:
        """
        Async :meth:`get_mass_update_status` (aiohttp), for triggers: same URLs, headers and parsing.

        :param module: module API name.
        :param job_id: from :meth:`mass_update_by_view`.
        """
        from asgiref.sync import sync_to_async

        settings = await self.aget_settings()
        # Not thread_sensitive: waiting for a mint (the throttle, another process's lock) must not
        # hold asgiref's one shared thread, which every trigger in the triggerer needs.
        tokens = await sync_to_async(self._tokens, thread_sensitive=False)()

        async def get_token(rejected: str | None, cause: ZohoCRMError | None) -> AccessToken:
            return await sync_to_async(tokens.get, thread_sensitive=False)(rejected, cause)

        plan = self._plan(settings, calls.job_status_call(module, job_id))
        return await run_async(plan, settings.timeout, get_token, tokens.accepted)

    def get_records(
        self, module: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """
        Read records by id, 100 per request.

        :param module: module API name.
        :param ids: record ids.
        :param fields: field API names to return.
        :return: ``id -> record`` for the ids that exist.
        """
        records: dict[str, dict[str, Any]] = {}
        for _, found in self.iter_records(module, ids, fields):
            records.update(found)
        return records

    def iter_records(
        self, module: str, ids: Sequence[str], fields: Sequence[str]
    ) -> Iterator[tuple[list[str], dict[str, dict[str, Any]]]]:
        """
        Read records by id, 100 per request (Zoho's limit), yielding each request's ids and what it found.

        :param module: module API name.
        :param ids: record ids (duplicates are read once).
        :param fields: field API names to return.
        """
        if isinstance(ids, str) or isinstance(fields, str):
            raise ValueError("ids and fields must be sequences, not strings")
        unique = list(dict.fromkeys(str(i) for i in ids))
        for start in range(0, len(unique), MAX_GET_RECORD_IDS):
            chunk = unique[start : start + MAX_GET_RECORD_IDS]
            yield chunk, self._call(calls.records_call(module, chunk, fields))

    def get_fields(self, module: str) -> dict[str, FieldMeta]:
        """
        Return the module's field metadata (``GET settings/fields?module=``), keyed by field API name.

        Needs the scope :data:`~airflow_crm_provider.zoho.calls.FIELDS_SCOPE`.

        :param module: module API name.
        :raises ZohoRequestError: ``INVALID_MODULE`` for a module the org does not have.
        """
        return self._call(calls.fields_call(module))

    def get_modules(self) -> list[str]:
        """Return the API names of the org's modules the API supports (``GET settings/modules``)."""
        return self._call(calls.modules_call())

    def get_org(self) -> dict[str, Any]:
        """
        Return the org's details (``GET /crm/<version>/org``): one cheap call, e.g. to learn the credits.

        Zoho's reply carries ``X-API-CREDITS-REMAINING`` once half the credits are used: read
        :attr:`credits` afterwards. A token without ``ZohoCRM.org.READ`` is refused once per process
        and connection; later calls raise the same error without asking (and paying) again.

        :raises ZohoAuthError: code ``OAUTH_SCOPE_MISMATCH``, naming the missing scope.
        """
        key = self.settings.cache_key()
        if key in _ORG_REFUSED:
            raise _ORG_REFUSED[key]
        try:
            return self._call(calls.org_call())
        except ZohoAuthError as exc:
            if exc.code != "OAUTH_SCOPE_MISMATCH":
                raise
            _ORG_REFUSED[key] = ZohoAuthError(
                f"GET org needs the {calls.ORG_SCOPE} scope, which this connection's refresh token lacks: "
                f"generate one with it to learn the org's API credits before the first write",
                code=exc.code,
                http_status=exc.http_status,
            )
            raise _ORG_REFUSED[key] from None

    def test_connection(self) -> tuple[bool, str]:
        """
        Make one cheap authenticated GET (``users?type=CurrentUser``), no retries: ``(ok, reason)``.

        Then one read of the ``Leads`` field metadata tells whether the grant has
        :data:`~airflow_crm_provider.zoho.calls.FIELDS_SCOPE`, which the operators' preflight needs.
        """
        probe = type(self)(self.zoho_crm_conn_id, max_attempts=1, backoff_base=0, max_token_wait=0)
        return probe_connection(
            lambda: probe.settings,
            lambda: probe._call(calls.current_user_call()),
            lambda: fields_scope_note(lambda: probe._call(calls.fields_call("Leads"))),
        )

    # -- connection form (Airflow 3.1; 3.2+ reads get_provider_info()) -----------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return hidden fields, relabelling and placeholders of the connection form."""
        return _form.ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Return the extra fields of the connection form, built from ``CONN_FIELDS``."""
        return _form.form_widgets()
