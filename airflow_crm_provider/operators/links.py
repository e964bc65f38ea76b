"""
The task's extra link to Zoho CRM's web UI: the custom view a job updated, the record, or the module.

When the connection is resolved, the operator saves a small link target in XCom (web UI host for
the connection's data centre and environment, module, custom view or single record id, API domain).
:class:`ZohoCRMLink` builds the URL from that XCom alone: no hook or connection call at link time.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import quote, urlsplit

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

    from airflow_crm_provider.hooks.zoho_crm import ZohoCRMHook

log = logging.getLogger(__name__)

#: XCom key of the link target a task saves.
LINK_TARGET_KEY = "zoho_crm_link"
#: Data centre -> domain of Zoho CRM's web UI (``crm.<domain>``; sandbox orgs: ``crmsandbox.<domain>``).
WEB_DOMAINS: dict[str, str] = {
    "us": "zoho.com",
    "eu": "zoho.eu",
    "in": "zoho.in",
    "au": "zoho.com.au",
    "jp": "zoho.jp",
    "cn": "zoho.com.cn",
    "ca": "zohocloud.ca",
    "sa": "zoho.sa",
    "uk": "zoho.uk",
}


class LinkTarget(TypedDict):
    """What the link needs, saved in XCom under :data:`LINK_TARGET_KEY`."""

    web: str
    module: str
    cvid: str | None
    record_id: str | None
    api_domain: str


def web_base(data_center: str, environment: str) -> str:
    """
    Return the web UI's base URL for a data centre and environment.

    :param data_center: ``us``, ``eu``, ... (see :data:`WEB_DOMAINS`).
    :param environment: ``production``, ``sandbox`` or ``developer`` (developer orgs use ``crm.``).
    :raises KeyError: an unknown data centre.
    """
    prefix = "crmsandbox" if environment == "sandbox" else "crm"
    return f"https://{prefix}.{WEB_DOMAINS[data_center]}"


def link_target(hook: ZohoCRMHook, module: str, ids: Sequence[str], cvid: Any) -> LinkTarget:
    """
    Return the link target of a task from its resolved connection and rendered arguments.

    :param hook: the hook, its connection already resolved (only its parsed settings are read).
    :param module: the module API name.
    :param ids: the validated ids (ids mode and dry run; empty in job mode).
    :param cvid: the custom view (job mode) or ``None``.
    """
    settings = hook.settings
    return {
        "web": web_base(settings.data_center, settings.environment),
        "module": str(module),
        "cvid": None if cvid is None or str(cvid).strip() == "" else str(cvid).strip(),
        "record_id": str(ids[0]) if len(ids) == 1 else None,
        "api_domain": settings.api_url,
    }


def save_link_target(ti: Any, hook: ZohoCRMHook, module: str, ids: Sequence[str], cvid: Any) -> None:
    """
    Push the task's link target to XCom; a failure is logged, never raised (the link is optional).

    :param ti: the running task instance (``context["ti"]``).
    :param hook: the hook, its connection already resolved.
    :param module: the module API name.
    :param ids: the validated ids (empty in job mode).
    :param cvid: the custom view (job mode) or ``None``.
    """
    try:
        ti.xcom_push(key=LINK_TARGET_KEY, value=link_target(hook, module, ids, cvid))
    except Exception:
        log.warning(
            "Could not save the Zoho CRM link target; the task's extra link stays empty", exc_info=True
        )


def web_url(target: Any) -> str:
    """
    Return the web UI URL of a saved link target, or ``""`` if it is not one.

    A custom view job links to the view's list, a single record to its page, else the module's list.
    Every path segment is percent-encoded and the host comes from :data:`WEB_DOMAINS` only.

    :param target: a :class:`LinkTarget` as read back from XCom.
    """
    if not isinstance(target, dict) or not target.get("module") or not target.get("web"):
        return ""
    parts = urlsplit(str(target["web"]))
    allowed = {f"{p}.{d}" for d in WEB_DOMAINS.values() for p in ("crm", "crmsandbox")}
    if parts.scheme != "https" or parts.netloc not in allowed:
        return ""
    url = f"https://{parts.netloc}/crm/tab/{quote(str(target['module']), safe='')}"
    if target.get("cvid"):
        return f"{url}/custom-view/{quote(str(target['cvid']), safe='')}/list"
    if target.get("record_id"):
        return f"{url}/{quote(str(target['record_id']), safe='')}"
    return url


class ZohoCRMLink(BaseOperatorLink):
    """Extra link "Zoho CRM": the updated custom view, record or module in Zoho CRM's web UI."""

    name = "Zoho CRM"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """
        Return the URL from the task's saved link target (XCom only), ``""`` if it saved none.

        :param operator: the task's operator.
        :param ti_key: the task instance.
        """
        from airflow.sdk.execution_time.xcom import XCom

        return web_url(XCom.get_value(ti_key=ti_key, key=LINK_TARGET_KEY))
