"""A real nginx-rtmp origin and ffmpeg publishers for live tests; every process is cleaned up.

Tests call ``require_media()`` first: on a laptop without nginx's rtmp module or ffmpeg the test
skips with a one-line reason, but where ``STREAMR_REQUIRE_MEDIA=1`` (CI sets it) it fails, so CI
can never pass by skipping the live tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import pytest

RTMP_MODULE_GLOBS = (
    "/usr/lib/nginx/modules/ngx_rtmp_module.so",
    "/usr/lib*/nginx/modules/ngx_rtmp_module.so",
)


def rtmp_module_path() -> str | None:
    for pattern in RTMP_MODULE_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def missing_media_tools() -> str | None:
    """A one-line reason when the live media tests cannot run here, else None."""
    if shutil.which("nginx") is None:
        return "nginx is not installed (apt-get install nginx libnginx-mod-rtmp)"
    if rtmp_module_path() is None:
        return "nginx's rtmp module is not installed (apt-get install libnginx-mod-rtmp)"
    if shutil.which("ffmpeg") is None:
        return "ffmpeg is not installed (apt-get install ffmpeg)"
    return None


def require(reason: str | None, what: str = "live media test") -> None:
    """Skip with ``reason`` when a tool is missing, but fail where STREAMR_REQUIRE_MEDIA=1 (CI)."""
    if reason is None:
        return
    if os.environ.get("STREAMR_REQUIRE_MEDIA") == "1":
        pytest.fail(f"{what} cannot run: {reason}")
    pytest.skip(reason)


def require_media() -> None:
    require(missing_media_tools())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


class NginxRtmpOrigin:
    """nginx with the rtmp module on a free loopback port, hooks pointed at ``hook_base_url``.

    ``hook_base_url`` is the site's root (e.g. a live test server); the hooks carry ``secret``.
    The origin also writes HLS (``hls_dir``) and serves it over HTTP on ``http_port``.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        hook_base_url: str | None,
        secret: str,
        update_seconds: int = 5,
        ports: tuple[int, int] | None = None,
    ) -> None:
        self.workdir = workdir
        self.update_seconds = update_seconds
        self.hook_base_url = hook_base_url.rstrip("/") if hook_base_url else None
        self.secret = secret
        # Reusing the ports of an earlier origin restarts "the same" origin.
        self.rtmp_port, self.http_port = ports or (free_port(), free_port())
        self.hls_dir = workdir / "hls"
        self.process: subprocess.Popen[bytes] | None = None

    def rtmp_url(self, slug: str, key: str | None = None) -> str:
        query = f"?key={key}" if key is not None else ""
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{slug}{query}"

    def hls_url(self, slug: str) -> str:
        return f"http://127.0.0.1:{self.http_port}/hls/{slug}.m3u8"

    def _hook(self, event: str) -> str:
        return f"{self.hook_base_url}/hooks/nginx-rtmp/{event}?secret={self.secret}"

    def _hooks(self) -> str:
        if self.hook_base_url is None:
            return "            # no hooks: every publish is admitted (benchmarks)"
        return f"""            notify_method post;
            on_publish {self._hook("publish")};
            on_publish_done {self._hook("publish_done")};
            on_play {self._hook("play")};
            on_play_done {self._hook("play_done")};
            # Periodic signs of life, so a session the origin lost can be taken over.
            on_update {self._hook("update")};
            notify_update_timeout {self.update_seconds}s;"""

    def config(self) -> str:
        temp = self.workdir / "temp"
        # Workers drop to an unprivileged user by default and then cannot write our temp dir.
        user = "user root;" if os.geteuid() == 0 else ""
        return f"""
load_module {rtmp_module_path()};
daemon off;
master_process on;
worker_processes 1;
{user}
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/error.log info;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen 127.0.0.1:{self.rtmp_port};
        chunk_size 4096;
        application live {{
            live on;
            record off;
{self._hooks()}
            hls on;
            hls_path {self.hls_dir};
            hls_fragment 1s;
            hls_playlist_length 10s;
        }}
    }}
}}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
    server {{
        listen 127.0.0.1:{self.http_port};
        location /hls/ {{ alias {self.hls_dir}/; add_header Cache-Control no-cache; }}
    }}
}}
"""

    def start(self) -> NginxRtmpOrigin:
        (self.workdir / "temp").mkdir(parents=True, exist_ok=True)
        self.hls_dir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "nginx.conf"
        conf.write_text(self.config())
        self.process = subprocess.Popen(
            ["nginx", "-p", str(self.workdir), "-e", str(self.workdir / "error.log"), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop() reaches every worker, whatever happened
        )
        try:
            wait_for_port(self.rtmp_port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"nginx did not start:\n{self.error_log()}") from None
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            # Workers outlive a master killed hard (a test of a crashing origin does that): the group goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process = None

    def error_log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> NginxRtmpOrigin:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def publish_test_source(
    rtmp_url: str,
    *,
    seconds: float,
    video_bitrate: str = "1M",
    size: str = "640x360",
    fps: int = 30,
    pattern: str = "testsrc2",
) -> subprocess.Popen[bytes]:
    """ffmpeg publishing a lavfi test pattern with a tone, in real time, for ``seconds``.

    The video is constant bitrate (x264 CBR with filler), so ``video_bitrate`` really crosses
    the origin and the relays, however simple the picture.
    """
    video = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(fps)]
    video += ["-x264-params", "nal-hrd=cbr:force-cfr=1"]
    rate = [
        "-b:v",
        video_bitrate,
        "-minrate",
        video_bitrate,
        "-maxrate",
        video_bitrate,
        "-bufsize",
        video_bitrate,
    ]
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re"]
    command += ["-f", "lavfi", "-i", f"{pattern}=size={size}:rate={fps}"]
    command += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", str(seconds)]
    command += [*video, *rate, "-c:a", "aac", "-b:a", "64k", "-f", "flv", rtmp_url]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
