"""
Replies that came but cannot be read: a write they answer may have been applied.

A 2xx reply whose body is not JSON, or not the shape Zoho answers (a proxy's page, a body cut or
corrupted on the way), carries no code of Zoho's: it is no rejection. The write may have been
applied, so it is settled by reading the records back (ids mode) or by finding the job (job mode).
"""

from __future__ import annotations

from airflow_crm_provider.zoho.errors import ZohoRequestError


def unreadable_reply(err: BaseException) -> bool:
    """
    Tell whether ``err`` stands for a 2xx reply whose body could not be read as Zoho's answer.

    :param err: what a call raised.
    """
    if not isinstance(err, ZohoRequestError) or err.code is not None:
        return False
    return err.http_status is not None and 200 <= err.http_status < 300
