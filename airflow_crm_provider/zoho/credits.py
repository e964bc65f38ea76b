"""
Zoho's API credit signals: the ``X-API-CREDITS-REMAINING`` header and a meter of calls by kind.

Zoho sends the header only once half of the org's credits (per rolling 24 hours) are used, so "no
header yet" means more than half remain. A 429 whose message names the daily limit means they are
spent (see :func:`~airflow_crm_provider.zoho.errors.is_credit_exhaustion`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final

from airflow_crm_provider.zoho.errors import ZohoCreditsExhaustedError

if TYPE_CHECKING:
    from airflow_crm_provider.zoho.errors import ZohoCRMError

#: The reply header of the credits left (lower-cased, as :class:`~.http.Reply` keeps headers).
CREDITS_HEADER = "x-api-credits-remaining"
#: The kinds of call the meter counts: each built call says its own (see :mod:`~.zoho.calls`).
READ_KIND: Final = "read"
MASS_UPDATE_KIND: Final = "mass_update"
UPDATE_RECORDS_KIND: Final = "update_records"
UPSERT_KIND: Final = "upsert"
STATUS_KIND: Final = "status"
METADATA_KIND: Final = "metadata"
OTHER_KIND: Final = "other"
CALL_KINDS = (
    READ_KIND,
    MASS_UPDATE_KIND,
    UPDATE_RECORDS_KIND,
    UPSERT_KIND,
    STATUS_KIND,
    METADATA_KIND,
    OTHER_KIND,
)
#: Longer than any credit count Zoho has (5,000,000 caps an edition): past it, the header is garbage.
_MAX_DIGITS = 12


def parse_credits(value: str | None) -> int | None:
    """
    Return the credits a header value says remain, or None for a missing or garbled value.

    :param value: the header's text, e.g. ``"41250"``.
    """
    text = (value or "").strip()
    if not text or len(text) > _MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


class CreditMeter:
    """
    What one hook learnt of the org's credits: the latest header, calls answered by kind, exhaustion.

    Thread-safe: ids mode sends chunks from several threads through one hook.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._calls = dict.fromkeys(CALL_KINDS, 0)
        self._exhausted = False

    def __repr__(self) -> str:
        return f"CreditMeter(remaining={self.remaining!r}, calls={self.calls!r}, exhausted={self.exhausted})"

    @property
    def remaining(self) -> int | None:
        """The credits left as Zoho last said (0 once they were found spent); None: not said yet."""
        with self._lock:
            return self._remaining

    @property
    def calls(self) -> dict[str, int]:
        """Calls Zoho answered, by kind (a copy)."""
        with self._lock:
            return dict(self._calls)

    @property
    def exhausted(self) -> bool:
        """Whether a reply said the org's credits are spent."""
        with self._lock:
            return self._exhausted

    def observe(self, kind: str, remaining: int | None, error: ZohoCRMError | None = None) -> None:
        """
        Take in one CRM reply.

        :param kind: one of :data:`CALL_KINDS`, as the call says (:attr:`~.calls.Call.kind`).
        :param remaining: the credits its header says remain (:func:`parse_credits`; None: not said).
        :param error: the error the reply was turned into, if any.
        """
        spent = isinstance(error, ZohoCreditsExhaustedError)
        with self._lock:
            self._calls[kind if kind in self._calls else OTHER_KIND] += 1
            if remaining is not None:
                self._remaining = remaining
            if spent:
                self._exhausted = True
                if remaining is None:
                    self._remaining = 0
