"""
What a mass update task's state store knows of each requested lead, after its last try was lost.

A try killed with its worker pushes no ``records``; the chunks whose replies it received are still in
the task instance's task-state store. This lists, through Airflow's REST API, each requested id as
``applied`` (Zoho answered SUCCESS), ``not applied`` (Zoho answered another code) or ``unknown``
(no reply recorded: it may or may not have been applied)::

    python3 scripts/task_records.py leads_mass_update_on_demand RUN_ID [--task update_leads]
        [--url http://127.0.0.1:8080] [--user airflow] [--password airflow]

The requested ids come from the run's ``conf`` (``ids``, the on-demand form) or from the
``select_batch``/``select_chunks`` XCom of the checked pipelines. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

#: Prefix of the keys the mass update keeps; chunk keys hold ``{"entries": [[id, status, code, ...]]}``.
KEY_PREFIX = "zoho_crm.mass_update."
_ROUND = re.compile(r"\.r(\d+)\.")


class Api:
    """
    Airflow's REST API (``/api/v2``) with a token from ``/auth/token``.

    :param url: the api-server's base URL.
    :param user: a UI user.
    :param password: its password.
    """

    def __init__(self, url: str, user: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.token = ""
        login = {"username": user, "password": password}
        self.token = self._request("POST", f"{self.url}/auth/token", login)["access_token"]

    def _request(self, method: str, url: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (http(s) URL given by the user)
        with urllib.request.urlopen(request, timeout=60) as reply:  # noqa: S310
            return json.loads(reply.read() or b"null")

    def get(self, path: str, **params: Any) -> Any:
        """GET ``/api/v2<path>``; None when it answers 404."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            return self._request("GET", f"{self.url}/api/v2{path}{query}")
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise


def _ids(value: Any) -> list[str]:
    """Return the ids in a form's text, a list of ids, or a list of chunks, in order."""
    if isinstance(value, str):
        return re.findall(r"[0-9]+", value)
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, list):
        return [i for item in value for i in _ids(item)]
    return []


def requested_ids(api: Api, dag_id: str, run_id: str) -> list[str]:
    """Return the ids the run asked to update: its conf, else the select task's XCom (empty if neither)."""
    run = api.get(f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}") or {}
    ids = _ids((run.get("conf") or {}).get("ids"))
    if ids:
        return ids
    for task_id in ("select_batch", "select_chunks"):
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/{task_id}"
        entry = api.get(f"{path}/xcomEntries/return_value", deserialize="true")
        value = (entry or {}).get("value")
        if isinstance(value, dict):
            value = value.get("ids")
        if value:
            return list(dict.fromkeys(_ids(value)))
    return []


def stored_codes(api: Api, dag_id: str, run_id: str, task_id: str, map_index: int) -> dict[str, str]:
    """Return ``{id: Zoho's code}`` from the chunk replies in the task's state store (latest round wins)."""
    path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/{task_id}/state-store"
    rows: list[dict[str, Any]] = []
    while True:
        page = api.get(path, limit=100, offset=len(rows), map_index=map_index) or {}
        batch = page.get("task_state_store") or []
        rows += batch
        if not batch or len(rows) >= page.get("total_entries", 0):
            break
    codes: dict[str, tuple[int, str]] = {}
    for row in rows:
        round_no = _ROUND.search(row["key"])
        value = row.get("value")
        if not row["key"].startswith(KEY_PREFIX) or round_no is None or not isinstance(value, dict):
            continue
        for entry in value.get("entries") or []:
            record_id, code = str(entry[0]), str(entry[2])
            if int(round_no.group(1)) >= codes.get(record_id, (-1, ""))[0]:
                codes[record_id] = (int(round_no.group(1)), code)
    return {record_id: code for record_id, (_round, code) in codes.items()}


def main(argv: list[str] | None = None) -> int:
    """Print one ``id<TAB>outcome<TAB>code`` line per lead, then a summary on stderr."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("dag_id")
    parser.add_argument("run_id")
    parser.add_argument("--task", default="update_leads", help="the mass update task (default update_leads)")
    parser.add_argument("--map-index", type=int, default=-1, help="of a mapped task (default -1)")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the api-server (default %(default)s)")
    parser.add_argument("--user", default="airflow")
    parser.add_argument("--password", default="airflow")
    args = parser.parse_args(argv)
    api = Api(args.url, args.user, args.password)
    codes = stored_codes(api, args.dag_id, args.run_id, args.task, args.map_index)
    requested = requested_ids(api, args.dag_id, args.run_id) or list(codes)
    counts = {"applied": 0, "not applied": 0, "unknown": 0}
    for record_id in dict.fromkeys([*requested, *codes]):
        code = codes.get(record_id)
        outcome = "unknown" if code is None else "applied" if code == "SUCCESS" else "not applied"
        counts[outcome] += 1
        print(f"{record_id}\t{outcome}\t{code or '-'}")
    print(
        f"{counts['applied']} applied, {counts['not applied']} not applied (Zoho's code given), "
        f"{counts['unknown']} unknown (no reply recorded: may or may not have been applied)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
