"""A small ``requests`` client for the emulator's admin API (``/__emulator__/``)."""

from __future__ import annotations

from typing import Any

import requests

ADMIN = "/__emulator__"


class EmulatorAdminError(RuntimeError):
    """
    The emulator refused an admin call (its message says why).

    :param message: what failed and why.
    :param status: the HTTP status of the answer.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class EmulatorClient:
    """
    Drive a running emulator: reset it, change settings, seed records, read its log and counters.

    :param url: the emulator's base URL, e.g. ``http://127.0.0.1:54321``.
    :param timeout: seconds to wait for each admin call.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"EmulatorClient({self.url!r})"

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self._session.request(method, self.url + ADMIN + path, json=payload, timeout=self.timeout)
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            status = response.status_code
            raise EmulatorAdminError(f"{method} {ADMIN}{path} failed with HTTP {status}: {message}", status)
        return response.json()

    def health(self) -> bool:
        """Tell whether the emulator answers (never raises)."""
        try:
            return bool(self._session.get(f"{self.url}{ADMIN}/health", timeout=1).ok)
        except requests.RequestException:
            return False

    def reset(self, **config: Any) -> dict[str, Any]:
        """
        Restore the default records and settings, clear log, counters, tokens, mint history and jobs.

        :param config: settings to apply on top of the defaults (see ``EmulatorConfig``).
        :return: the settings now in force.
        """
        return dict(self._call("POST", "/reset", config))

    def configure(self, **config: Any) -> dict[str, Any]:
        """
        Change some settings, keeping data and the other settings.

        :param config: setting name -> value (see ``EmulatorConfig``).
        :return: the settings now in force.
        """
        return dict(self._call("POST", "/config", config))

    def config(self) -> dict[str, Any]:
        """Return the settings in force (bursts show what is left)."""
        return dict(self._call("GET", "/config"))

    def expire_tokens(self) -> int:
        """Make every issued access token invalid; return how many were still valid."""
        return int(self._call("POST", "/tokens/expire")["expired"])

    def issue_token(
        self, ttl: float | None = None, *, scopes: list[str] | None = None, client_id: str | None = None
    ) -> str:
        """
        Return a valid access token without the OAuth flow (not counted as a mint).

        :param ttl: lifetime in seconds (default: the ``token_ttl`` setting).
        :param scopes: its OAuth scopes, e.g. ``["ZohoCRM.modules.ALL"]`` (default: every scope).
            A request the scopes do not cover answers 401 OAUTH_SCOPE_MISMATCH.
        :param client_id: the app it belongs to (default: the emulator's client); apps have
            separate concurrency pools.
        """
        payload = {"ttl": ttl, "scopes": scopes, "client_id": client_id}
        return str(self._call("POST", "/tokens", payload)["access_token"])

    def issue_refresh_token(
        self,
        *,
        scopes: list[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> str:
        """
        Create a refresh token whose access tokens carry ``scopes``.

        :param scopes: OAuth scopes (default: every scope).
        :param client_id: the app (default: the emulator's client); a new one is registered with
            ``client_secret`` and gets its own concurrency pool.
        :param client_secret: the secret of a new app.
        """
        payload = {"scopes": scopes, "client_id": client_id, "client_secret": client_secret}
        return str(self._call("POST", "/refresh_tokens", payload)["refresh_token"])

    def refuse(
        self,
        code: str,
        *,
        operation: str = "mass_update",
        module: str | None = None,
        times: int | None = None,
    ) -> list[dict[str, Any]]:
        """
        Make requests answer one of Zoho's documented request-level errors.

        :param code: e.g. ``NO_PERMISSION``, ``AUTHORIZATION_FAILED``, ``CANNOT_PERFORM_ACTION``,
            ``LIMIT_EXCEEDED``, ``INVALID_URL_PATTERN`` (the catalogue: ``emulator.refusals.CATALOGUE``).
        :param operation: ``mass_update`` (POST), ``status`` (job status GET), ``update`` (Update
            Records PUTs), ``upsert``, ``read`` (record reads), ``metadata`` (users, org, settings) or
            ``any``.
        :param module: only requests to this module (default: any).
        :param times: how many requests to refuse (default: all until reset or :meth:`clear_refusals`).
        :return: the refusals now seeded.
        """
        payload = {"code": code, "operation": operation, "module": module, "times": times}
        return list(self._call("POST", "/refusals", payload))

    def refusals(self) -> list[dict[str, Any]]:
        """Return the seeded refusals still in force (``times`` shows what is left)."""
        return list(self._call("GET", "/refusals"))

    def clear_refusals(self) -> None:
        """Remove every seeded refusal."""
        self._call("DELETE", "/refusals")

    def credits(self) -> dict[str, Any]:
        """Return the org's API credits: ``{"budget", "window", "used", "remaining"}`` (None: unlimited)."""
        return dict(self._call("GET", "/credits"))

    def set_credits_used(self, used: int) -> dict[str, Any]:
        """
        Set the credits used now, as if other integrations of the org had spent them (0 clears them).

        :param used: credits used in the window, all counted as spent now.
        :return: the credits after the change (see :meth:`credits`).
        """
        return dict(self._call("POST", "/credits", {"used": used}))

    def spend_credits(self, credits: int) -> dict[str, Any]:
        """
        Spend ``credits`` more now, as another integration of the org would.

        :param credits: how many.
        :return: the credits after the change (see :meth:`credits`).
        """
        return dict(self._call("POST", "/credits", {"spend": credits}))

    def reset_credits(self) -> dict[str, Any]:
        """Forget every credit used (the budget stays); return the credits (see :meth:`credits`)."""
        return dict(self._call("POST", "/credits", {"reset": True}))

    def seed(
        self,
        module: str = "Leads",
        *,
        count: int = 0,
        ids: list[str] | None = None,
        not_approved: list[str] | tuple[str, ...] = (),
        in_blueprint: list[str] | tuple[str, ...] = (),
        cannot_process: list[str] | tuple[str, ...] = (),
        locked: list[str] | tuple[str, ...] = (),
        locked_for: int | None = None,
        fields: dict[str, Any] | None = None,
        custom_views: dict[str, list[str]] | None = None,
        territories: dict[str, list[str]] | None = None,
    ) -> list[str]:
        """
        Create or change records of a module (created if new).

        :param module: module api name.
        :param count: generated records to add.
        :param ids: records to create when missing.
        :param not_approved: ids that answer NOT_APPROVED (created when missing).
        :param in_blueprint: ids in a blueprint, answering RECORD_IN_BLUEPRINT (created when missing).
        :param cannot_process: ids in the "stop processing" state, answering CANNOT_PROCESS.
        :param locked: ids that answer RECORD_LOCKED (created when missing).
        :param locked_for: update attempts that still see RECORD_LOCKED before the lock clears
            (None: locked forever).
        :param fields: field api name -> value, set on every id given or generated by this call.
        :param custom_views: cvid -> member ids (replaces that view).
        :param territories: territory id -> member ids (replaces that territory).
        :return: the ids given (``ids``, then new ones from the state lists), then the generated
            ones, in order.
        """
        payload = {
            "module": module,
            "count": count,
            "ids": list(ids or []),
            "not_approved": list(not_approved),
            "in_blueprint": list(in_blueprint),
            "cannot_process": list(cannot_process),
            "locked": list(locked),
            "locked_for": locked_for,
            "fields": fields or {},
            "custom_views": custom_views or {},
            "territories": territories or {},
        }
        return [str(i) for i in self._call("POST", "/seed", payload)["ids"]]

    def define_fields(
        self, module: str, fields: dict[str, Any], *, max_fields: int | None = None
    ) -> dict[str, dict[str, Any]]:
        """
        Add or replace field definitions of a module (created if new).

        :param module: module api name.
        :param fields: api name -> data type (``"integer"``) or ``{"type", "mass_updatable", "unique"}``.
            Email, lookup and textarea fields are not mass-updatable unless said otherwise; a unique
            field ("Do not allow duplicate values") refuses another record's value with DUPLICATE_DATA.
        :param max_fields: fields allowed per mass update call.
        :return: the module's field definitions.
        """
        return dict(
            self._call("POST", "/fields", {"module": module, "fields": fields, "max_fields": max_fields})
        )

    def records(self, module: str = "Leads") -> dict[str, dict[str, Any]]:
        """Return every record of a module as ``{id: record}``."""
        return dict(self._call("GET", f"/records/{module}"))

    def record(self, module: str, id: str) -> dict[str, Any] | None:
        """Return one record, or None when it does not exist."""
        try:
            return dict(self._call("GET", f"/records/{module}/{id}"))
        except EmulatorAdminError as err:
            if err.status == 404:
                return None
            raise

    def log(self) -> list[dict[str, Any]]:
        """
        Return the logged CRM and token requests, oldest first.

        Each is ``{"method", "path", "query", "headers", "body", "status"}``: header names lower-case
        as received, ``body`` parsed JSON, a form dict or raw text, ``status`` the answer's HTTP status
        (None when the connection was dropped, or while the request is still being answered).
        """
        return list(self._call("GET", "/log"))

    def counters(self) -> dict[str, Any]:
        """
        Return the counters since the last reset.

        ``tokens_minted``, ``mints_throttled``, ``requests`` (``"METHOD /path"`` -> count),
        ``mass_update_posts``, ``status_gets``, ``record_gets``, ``records_changed``,
        ``jobs_scheduled``, ``max_in_flight`` (most requests one app had in flight in the org, over
        all its tokens), ``max_heavy_in_flight`` (the same for mass update POSTs), ``answered_429``,
        ``answered_credit_429`` (those because the credits were spent), ``answered_5xx``,
        ``dropped_connections``, ``lost_replies``, ``garbled_replies``, ``broken_replies``,
        ``refusals_answered``, ``tokens_evicted``.
        """
        return dict(self._call("GET", "/counters"))

    def jobs(self) -> list[dict[str, Any]]:
        """Return every mass update job with its current status counts."""
        return list(self._call("GET", "/jobs"))

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()
