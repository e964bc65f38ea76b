"""The connection test: one cheap authenticated GET, and what its failure means to the user."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_crm_provider.zoho import calls
from airflow_crm_provider.zoho.auth import TokenCacheError, open_token_cache
from airflow_crm_provider.zoho.errors import (
    ZohoAuthError,
    ZohoConnectionError,
    ZohoCRMError,
    ZohoTokenThrottledError,
    ZohoTransientError,
)
from airflow_crm_provider.zoho.settings import ZohoConnectionConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_crm_provider.zoho.settings import ZohoConnectionSettings


def probe_connection(
    settings_of: Callable[[], ZohoConnectionSettings], current_user: Callable[[], str]
) -> tuple[bool, str]:
    """
    Check the token cache, then ask who the connection acts as (``users?type=CurrentUser``).

    :param settings_of: resolves the connection (raises :class:`ZohoConnectionConfigError`).
    :param current_user: makes the call, without retries or waits for a mint.
    :return: ``(ok, reason)``, the reason saying what to fix.
    """
    try:
        settings = settings_of()
        if not settings.static_token:  # a run goes on without a broken cache; the test says so
            open_token_cache(settings, lock_timeout=0).load()
        user = current_user()
        return True, f"Connected to Zoho CRM {settings.api_version} at {settings.api_url} as {user}"
    except ZohoConnectionConfigError as exc:
        return False, f"Connection settings: {exc}"
    except TokenCacheError as exc:
        return False, f"Token cache: {exc.message}"
    except ZohoConnectionError as exc:
        return False, f"Cannot reach Zoho: {exc.message}"
    except ZohoTokenThrottledError as exc:
        return False, f"Zoho refuses to mint more access tokens for now: {exc}"
    except ZohoAuthError as exc:
        if exc.code == "OAUTH_SCOPE_MISMATCH":
            return False, (
                f"The token lacks the {calls.USERS_SCOPE} scope this test needs ({exc}); the README lists "
                f"every scope the operators use, {calls.ORG_SCOPE} among them (min_credits_remaining)"
            )
        return False, f"Authentication failed: {exc}"
    except ZohoTransientError as exc:
        return False, f"Zoho failed or is busy, try again later: {exc}"
    except ZohoCRMError as exc:
        return False, f"Zoho refused the request: {exc}"
