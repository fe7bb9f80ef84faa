"""Many relays in one process, for bench/coverage.py: node N at http://127.0.0.1:PORT/n/N serves
one real relay's HLS directory (the agent's own ffmpeg -c copy output) and answers /healthz with
its node id, as the agent does. Usage: relay_farm.py PORT HLS_ROOT"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web


def app(root: Path) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "node_id": int(request.match_info["node"])})

    async def hls(request: web.Request) -> web.StreamResponse:
        path = (root / request.match_info["slug"] / request.match_info["name"]).resolve()
        if root not in path.parents or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    application = web.Application()
    application.router.add_get(r"/n/{node:\d+}/healthz", healthz)
    application.router.add_get(r"/n/{node:\d+}/hls/{slug}/{name}", hls)
    return application


if __name__ == "__main__":
    web.run_app(app(Path(sys.argv[2]).resolve()), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
