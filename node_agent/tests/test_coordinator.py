"""The coordinator client against a real HTTP server on loopback: answers, errors, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from streamr_node import __version__
from streamr_node.coordinator import Coordinator, CoordinatorError

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def coordinator_at(routes: dict[str, Route], prefix: str = "") -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_route("*", prefix + path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(prefix))
    finally:
        await server.close()


def call(routes: dict[str, Route], use: Callable[[Coordinator], Awaitable[Any]], *, api_key: str = "nk_key") -> Any:
    async def main() -> Any:
        async with coordinator_at(routes) as base:
            coordinator = Coordinator(base, api_key)
            try:
                return await use(coordinator)
            finally:
                await coordinator.close()

    return asyncio.run(main())


def failure(routes: dict[str, Route], use: Callable[[Coordinator], Awaitable[Any]]) -> CoordinatorError:
    with pytest.raises(CoordinatorError) as caught:
        call(routes, use)
    return caught.value


def answering(status: int, body: str = "", **headers: str) -> dict[str, Route]:
    async def handler(request: web.Request) -> web.Response:
        kind = "application/json" if body.startswith(("{", "[")) else "text/html"
        return web.Response(status=status, text=body, content_type=kind, headers=headers)

    return {"/api/v1/nodes/heartbeat": handler, "/api/v1/nodes/me": handler}


def beat(coordinator: Coordinator) -> Awaitable[dict[str, Any]]:
    return coordinator.heartbeat({"seq": 1})


def test_a_heartbeat_carries_the_api_key_and_the_payload_and_returns_the_answer():
    seen: dict[str, Any] = {}

    async def heartbeat(request: web.Request) -> web.Response:
        seen.update(method=request.method, headers=dict(request.headers), body=await request.json())
        return web.json_response({"next_heartbeat_in": 10, "assignment": None})

    answer = call({"/api/v1/nodes/heartbeat": heartbeat}, lambda c: c.heartbeat({"seq": 4, "stream": "alice"}))
    assert answer == {"next_heartbeat_in": 10, "assignment": None}
    assert seen["method"] == "POST" and seen["body"] == {"seq": 4, "stream": "alice"}
    assert seen["headers"]["Authorization"] == "Bearer nk_key"
    assert seen["headers"]["User-Agent"] == f"streamr-node/{__version__}"
    assert seen["headers"]["Content-Type"].startswith("application/json")


def test_registering_sends_no_api_key():
    seen: dict[str, Any] = {}

    async def register(request: web.Request) -> web.Response:
        seen.update(headers=dict(request.headers), body=await request.json())
        return web.json_response({"node_id": 3, "api_key": "nk_new", "approval": "pending"}, status=201)

    answer = call(
        {"/api/v1/nodes/register": register},
        lambda c: c.register(token="et_1", name="n", public_url="http://n:8090"),
        api_key="",
    )
    assert answer["node_id"] == 3
    assert "Authorization" not in seen["headers"]
    assert seen["body"] == {"token": "et_1", "name": "n", "public_url": "http://n:8090"}


def test_a_coordinator_under_a_path_prefix_is_reached_under_it():
    async def me(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path})

    async def main() -> dict[str, Any]:
        async with coordinator_at({"/api/v1/nodes/me": me}, prefix="/streamr") as base:
            coordinator = Coordinator(base + "/")
            try:
                return await coordinator.me()
            finally:
                await coordinator.close()

    assert asyncio.run(main()) == {"path": "/streamr/api/v1/nodes/me"}


def test_a_refused_api_key_is_an_error_with_the_status_code_and_message():
    body = '{"error": {"code": "bad_api_key", "message": "Unknown API key."}}'
    error = failure(answering(401, body), beat)
    assert (error.status, error.code, error.retry_after) == (401, "bad_api_key", None)
    assert str(error) == "coordinator answered 401: Unknown API key."


def test_a_429_carries_the_seconds_of_its_retry_after():
    error = failure(answering(429, '{"error": {"code": "throttled"}}', **{"Retry-After": "7"}), beat)
    assert (error.status, error.code, error.retry_after) == (429, "throttled", 7.0)
    assert str(error) == "coordinator answered 429: Too Many Requests"


def test_a_retry_after_that_is_a_date_is_ignored():
    error = failure(answering(429, "", **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), beat)
    assert (error.status, error.retry_after) == (429, None)


def test_an_error_page_that_is_not_json_reports_the_status_and_reason():
    error = failure(answering(502, "<html>Bad gateway</html>"), beat)
    assert (error.status, error.code) == (502, "")
    assert str(error) == "coordinator answered 502: Bad Gateway"


def test_a_success_whose_body_is_not_a_json_object_is_an_error():
    error = failure(answering(200, "[1, 2]"), beat)
    assert error.status == 200


def test_a_success_whose_body_is_not_json_is_an_empty_answer():
    assert call(answering(200, "<html>ok</html>"), beat) == {}


def test_a_redirect_is_reported_and_not_followed():
    followed: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(request.path)
        return web.json_response({})

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    error = failure({"/api/v1/nodes/heartbeat": moved, "/elsewhere": elsewhere}, beat)
    assert error.status == 302 and followed == []


def test_a_refused_connection_is_unreachable():
    with socket.socket() as bound:  # bound but not listening: connecting is refused, no race
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]

        async def main() -> None:
            coordinator = Coordinator(f"http://127.0.0.1:{port}", "nk_key")
            try:
                await coordinator.me()
            finally:
                await coordinator.close()

        with pytest.raises(CoordinatorError, match="coordinator unreachable") as caught:
            asyncio.run(main())
    assert caught.value.status == 0 and caught.value.retry_after is None


def test_a_coordinator_that_never_answers_times_out_as_unreachable():
    release = asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    async def main() -> None:
        async with coordinator_at({"/api/v1/nodes/me": silent}) as base:
            coordinator = Coordinator(base, "nk_key", timeout=0.2)
            try:
                await coordinator.me()
            finally:
                release.set()
                await coordinator.close()

    with pytest.raises(CoordinatorError, match="coordinator unreachable") as caught:
        asyncio.run(main())
    assert caught.value.status == 0
