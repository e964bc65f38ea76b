"""
Whether a call that failed may still have been carried out by Zoho (a write applied, a job scheduled).

A 2xx reply whose body is not JSON, or not the shape Zoho answers (a proxy's page, a body cut or
corrupted on the way), carries no code of Zoho's: it is no rejection. Like a lost reply or a 5xx, the
write may have been applied, so it is settled by reading the records back (ids mode) or by asking
Zoho again (job mode), never reported as not applied.
"""

from __future__ import annotations

from airflow_crm_provider.zoho.errors import (
    ZohoConnectionError,
    ZohoCRMError,
    ZohoRequestError,
    ZohoServerError,
)


def unreadable_reply(err: BaseException) -> bool:
    """
    Tell whether ``err`` stands for a 2xx reply whose body could not be read as Zoho's answer.

    :param err: what a call raised.
    """
    if not isinstance(err, ZohoRequestError) or err.code is not None:
        return False
    return err.http_status is not None and 200 <= err.http_status < 300


def may_have_applied(err: BaseException) -> bool:
    """
    Tell whether a call that ended in ``err`` may have reached Zoho and been (partly) carried out.

    :param err: what the call raised.
    """
    if isinstance(err, ZohoConnectionError):
        return err.maybe_delivered
    if isinstance(err, ZohoServerError) or unreadable_reply(err):
        return True  # Zoho failed while handling it, or answered what cannot be read
    return not isinstance(err, ZohoCRMError)  # Zoho refused it (429, a code), or an error of our own
