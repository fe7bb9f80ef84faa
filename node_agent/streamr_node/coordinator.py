"""The coordinator's node API, over an aiohttp client session."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import aiohttp

from streamr_node import __version__

USER_AGENT = f"streamr-node/{__version__}"


class CoordinatorError(Exception):
    """The coordinator answered with an error (``status`` > 0) or could not be reached (0)."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after


class Coordinator:
    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 5.0) -> None:
        # Joined by hand rather than with ClientSession(base_url=...), which drops a path prefix
        # such as https://host/streamr when the API path starts with a slash.
        self.base_url = base_url.rstrip("/")
        self.headers = {"User-Agent": USER_AGENT}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        # Each phase bounded on its own, with no overall cap: a slow but moving answer still lands.
        self.timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the loop that will run it: a session is tied to the loop it
        # was made in, and an Agent (with its Coordinator) may be built before any loop runs.
        if self._session is None:
            # trust_env stays off: with it, a ~/.netrc entry for the coordinator's host would
            # clash with the Bearer header and fail every call.
            self._session = aiohttp.ClientSession(headers=self.headers, timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def register(self, *, token: str, name: str, public_url: str) -> dict[str, Any]:
        return await self._call(
            "POST", "/api/v1/nodes/register", {"token": token, "name": name, "public_url": public_url}
        )

    async def heartbeat(self, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/api/v1/nodes/heartbeat", payload)

    async def me(self) -> dict[str, Any]:
        return await self._call("GET", "/api/v1/nodes/me", None)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        try:
            # A redirect is reported, not followed: a POST must not silently turn into a GET, and
            # the API key must not travel to wherever a Location header points.
            async with self._client().request(
                method, self.base_url + path, json=body, allow_redirects=False
            ) as response:
                raw = await response.read()  # inside the try: a connection dropped mid-body is "unreachable"
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
            raise CoordinatorError(f"coordinator unreachable: {detail}") from None
        try:
            # Whatever the Content-Type says, like the site's error pages that may not say JSON.
            data = json.loads(raw)
        except ValueError:
            data = {}
        if 200 <= response.status < 300 and isinstance(data, dict):
            return data
        error = data.get("error", {}) if isinstance(data, dict) else {}
        if not isinstance(error, dict):
            error = {}
        retry_after = response.headers.get("Retry-After")
        reason = response.reason or _reason_phrase(response.status)
        raise CoordinatorError(
            f"coordinator answered {response.status}: {error.get('message') or reason}",
            status=response.status,
            code=str(error.get("code", "")),
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
