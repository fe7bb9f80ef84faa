"""The coordinator's node API, over httpx."""

from __future__ import annotations

from typing import Any

import httpx

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
        headers = {"User-Agent": USER_AGENT}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    async def close(self) -> None:
        await self.client.aclose()

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
            response = await self.client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise CoordinatorError(f"coordinator unreachable: {exc.__class__.__name__}: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.is_success and isinstance(data, dict):
            return data
        error = data.get("error", {}) if isinstance(data, dict) else {}
        retry_after = response.headers.get("Retry-After")
        raise CoordinatorError(
            f"coordinator answered {response.status_code}: {error.get('message') or response.reason_phrase}",
            status=response.status_code,
            code=str(error.get("code", "")),
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
