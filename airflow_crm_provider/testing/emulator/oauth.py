"""``POST /oauth/v2/token``: Zoho's accounts server, errors under HTTP 200 and the mint throttle."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from airflow_crm_provider.testing.emulator import defaults
from airflow_crm_provider.testing.emulator.inbound import capture, state_of
from airflow_crm_provider.testing.emulator.responses import JSON_TYPE, zoho_json

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

#: Zoho's answer once a refresh token minted too many access tokens in the window.
THROTTLED: dict[str, str] = {
    "error_description": "You have made too many requests continuously. Please try again after some time.",
    "error": "Access Denied",
    "status": "failure",
}
_HEADERS = {"Server": "ZGS", "Content-Type": JSON_TYPE, "Cache-Control": "no-store", "Pragma": "no-cache"}


async def token_endpoint(request: Request) -> Response:
    """Exchange a refresh token (or the self-client grant code) for an access token."""
    entry = await capture(request)
    params = {**entry["query"], **(entry["body"] if isinstance(entry["body"], dict) else {})}
    body = _grant(request, {k: str(v) for k, v in params.items()})
    entry["status"] = 200
    return zoho_json(body, 200, _HEADERS)


def _grant(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """Return the token endpoint's JSON answer for these form/query parameters."""
    state = state_of(request)
    client_id = params.get("client_id", "")
    secret = state.tokens.clients.get(client_id)
    if secret is None or params.get("client_secret") != secret:
        return {"error": "invalid_client"}
    grant_type = params.get("grant_type")
    new_refresh_token: str | None = None
    if grant_type == "refresh_token":
        refresh_token = params.get("refresh_token", "")
        known = state.tokens.refresh_tokens.get(refresh_token)
        if known is None or known.client_id != client_id:
            return {"error": "invalid_code"}
    elif grant_type == "authorization_code":
        # the one grant code belongs to the default app
        code = params.get("code", "") if client_id == defaults.CLIENT_ID else ""
        new_refresh_token = state.tokens.exchange_code(code)
        if new_refresh_token is None:
            return {"error": "invalid_code"}
        refresh_token = new_refresh_token
    else:
        return {"error": "unsupported_grant_type"}
    now, config = time.time(), state.config
    if not state.tokens.may_mint(refresh_token, now, config.mint_limit, config.mint_window):
        state.counters.mints_throttled += 1
        return dict(THROTTLED)
    token = state.tokens.mint(refresh_token, now, config.token_ttl, active_limit=config.active_tokens)
    state.counters.tokens_minted += 1
    answer: dict[str, Any] = {"access_token": token.token}
    if new_refresh_token is not None:
        answer["refresh_token"] = new_refresh_token
    answer.update(
        scope=" ".join(token.scopes),
        api_domain=f"{request.url.scheme}://{request.url.netloc}",
        token_type="Bearer",  # noqa: S106 (a token type, not a secret)
        expires_in=math.ceil(config.token_ttl),
    )
    return answer
