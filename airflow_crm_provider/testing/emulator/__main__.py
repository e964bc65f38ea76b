"""
Command line of the emulator.

``python -m airflow_crm_provider.testing.emulator --host 127.0.0.1 --port N [--config JSON]
[--tls DIR --tls-host NAME ...] [--state-file PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from airflow_crm_provider.testing.emulator import BANNER
from airflow_crm_provider.testing.emulator.config import EmulatorConfig
from airflow_crm_provider.testing.emulator.persistence import STATE_FILE_VARIABLE, StateFileError


def connection_line(url: str) -> str:
    """
    Return a shell line that points Airflow's ``zoho_crm_default`` at the emulator at ``url``.

    :param url: the emulator's base URL (token endpoint and CRM API alike).
    """
    from airflow_crm_provider.testing.client import EmulatorClient
    from airflow_crm_provider.testing.process import RunningEmulator

    handle = RunningEmulator(url=url, client=EmulatorClient(url))
    handle.client.close()
    return f"export AIRFLOW_CONN_ZOHO_CRM_DEFAULT='{handle.connection_json()}'"


def _announce(line: str) -> None:
    """Print the banner, then the connection for Airflow (the emulator's public test credentials)."""
    print(line, flush=True)
    url = line.removeprefix(BANNER)
    print(f"Point Airflow at it (the emulator's test credentials):\n{connection_line(url)}", flush=True)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--config is not JSON: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--config must be a JSON object of settings")
    return value


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the emulator until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_crm_provider.testing.emulator",
        description="Run the Zoho CRM emulator (OAuth token endpoint, CRM API, admin API).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port, e.g. 8765; 0 picks a free one (default)"
    )
    parser.add_argument(
        "--config",
        type=_json_object,
        default=None,
        help="settings as a JSON object, e.g. '{\"latency\": 0.2}'",
    )
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process ends")
    parser.add_argument(
        "--tls",
        metavar="DIR",
        default=None,
        help="serve https with a private CA kept in DIR (created once; clients trust DIR/ca-bundle.pem)",
    )
    parser.add_argument(
        "--tls-host",
        metavar="NAME",
        action="append",
        default=None,
        help="host name the certificate covers (repeat it; default localhost and 127.0.0.1)",
    )
    parser.add_argument(
        "--state-file",
        metavar="PATH",
        default=os.environ.get(STATE_FILE_VARIABLE) or None,
        help=f"keep the org in PATH across restarts: loaded at start, saved on every change "
        f"(default: ${STATE_FILE_VARIABLE}; none: the org lives in memory only)",
    )
    args = parser.parse_args(argv)
    if args.tls_host and not args.tls:
        parser.error("--tls-host needs --tls DIR")
    try:
        EmulatorConfig().updated(args.config)
    except ValueError as err:
        parser.error(str(err))
    from airflow_crm_provider.testing.emulator.server import serve

    tls = None
    if args.tls:
        from airflow_crm_provider.testing.emulator.tls import ensure_certificates

        tls = ensure_certificates(args.tls, args.tls_host or ["localhost", "127.0.0.1"])
    state_file = args.state_file
    try:
        serve(
            args.host,
            args.port,
            args.config,
            announce=_announce,
            parent_pid=args.parent_pid,
            tls=tls,
            state_file=state_file,
        )
    except StateFileError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")


if __name__ == "__main__":
    main()
