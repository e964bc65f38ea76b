"""
A Zoho stand-in that costs (almost) nothing per call, so a benchmark measures the client alone.

An asyncio socket server on loopback: ``POST /oauth/v2/token`` answers a canned token; ``POST
.../actions/mass_update`` answers one canned ``SUCCESS`` entry (the emulator's shape) per id of the
body, after ``--latency`` seconds (a sleep: no CPU). No validation, no store. Run ``python -m
benchmarks.fake_zoho [--latency S]``: it prints its URL and serves until its parent process is gone.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

BANNER = "fake Zoho at "
TOKEN_REPLY = json.dumps(
    {"access_token": "1000.fake.token", "expires_in": 3600, "token_type": "Bearer", "api_domain": ""}
).encode()
_ENTRY_HEAD = (
    b'{"code":"SUCCESS","details":{"Modified_Time":"2026-01-01T00:00:00+00:00","Modified_By":'
    b'{"name":"Patricia Boyle","id":"738964000000291009"},"Created_Time":"2021-05-07T06:23:10+00:00",'
    b'"id":"'
)
_ENTRY_TAIL = (
    b'","Created_By":{"name":"Patricia Boyle","id":"738964000000291009"}},'
    b'"message":"record updated","status":"success"}'
)


def _reply(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def mass_update_reply(body: bytes) -> bytes:
    """Return the canned reply body for a mass update request body."""
    ids = json.loads(body).get("ids", [])
    return b'{"data":[' + b",".join(_ENTRY_HEAD + str(i).encode() + _ENTRY_TAIL for i in ids) + b"]}"


LATENCY = [0.0]
#: Mass update requests answered, served at ``GET /count``.
COUNT = [0]


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            length = 0
            for line in lines[1:]:
                if line[:15].lower() == "content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            if path.startswith("/oauth/"):
                writer.write(_reply("200 OK", TOKEN_REPLY))
            elif path.endswith("/actions/mass_update"):
                COUNT[0] += 1
                if LATENCY[0]:
                    await asyncio.sleep(LATENCY[0])
                writer.write(_reply("200 OK", mass_update_reply(body)))
            elif path == "/count":
                writer.write(_reply("200 OK", str(COUNT[0]).encode()))
            else:
                writer.write(_reply("404 Not Found", b'{"code":"INVALID_URL_PATTERN","status":"error"}'))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        await asyncio.sleep(0.5)


async def main() -> None:
    """Serve on a free loopback port until the parent process exits."""
    parent = os.getppid()
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"{BANNER}http://127.0.0.1:{port}", flush=True)
    async with server:
        await _watch_parent(parent)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--latency":
        LATENCY[0] = float(sys.argv[2])
    sys.exit(asyncio.run(main()))
