"""A new friend's first hour, in a real Chromium against the production web tier, a django-q2
worker, an nginx-rtmp origin with a live ffmpeg stream, and agents installed from the site:

invite link → sign-up → "Add a node" → the shown ``pip install <wheel URL>`` run with a fresh
virtualenv's pip → "Create enrollment token" → the shown register command → ``streamr-node run`` →
the page's waiting line turns green live → the site probes the node from outside (reachability
"ok"), it earns (``earning.ok``) and the open hour's estimate is above zero; a second node whose
public URL nobody answers (its router port not forwarded) shows reachability false with advice and
why it does not earn. Screenshots of each step in test-artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django_q.models import Schedule

from accounts import services as account_services
from core import live_outbox
from streams.models import StreamSession
from testkit.agents import AgentProcess
from testkit.browser import AsgiSite, require_browser
from testkit.fixtures import eventually
from testkit.media import NginxRtmpOrigin, free_port, publish_test_source, require_media, stop_process

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
PASSWORD = "first-hour-pass-123"
PLACEHOLDER = "http://YOUR-PUBLIC-ADDRESS:8090"
APP_NAME = "first-hour-site"  # the site's and the worker's PostgreSQL sessions (PGAPPNAME)


class Worker:
    """``manage.py qcluster`` beside the web tier (reachability probes are its jobs)."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.log_path = workdir / "worker.log"
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Worker:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(django_settings.BASE_DIR / "manage.py"), "qcluster"],
                cwd=django_settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: the cluster's worker processes go with it
            )
        return self

    def __exit__(self, *exc: object) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)  # the cluster stops its own workers
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the net: nothing of the group outlives the test
        process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class VenvAgent(AgentProcess):
    """An agent run from the friend's fresh virtualenv (not the project's), with the config and
    data of this test."""

    def __init__(self, workdir: Path, *, name: str, coordinator: str, venv: Path) -> None:
        super().__init__(workdir, name=name, coordinator=coordinator)
        self.exe = str(venv / "bin" / "streamr-node")

    def run_cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.exe, *args], capture_output=True, text=True, timeout=timeout)

    def start(self) -> VenvAgent:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.exe, "run", "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def api_key(self) -> str:
        return str(json.loads(self.config.read_text())["api_key"])


def shown_register_command(page: Any) -> str:
    """The register command as the page's copy button copies it."""
    return str(page.get_attribute('pre[data-command="register"] + button.copy', "data-copy"))


def register_as_shown(agent: VenvAgent, command: str, public_url: str) -> subprocess.CompletedProcess[str]:
    """The friend pastes the command, with their public address for the placeholder; the test adds
    where this agent keeps its config and data and the port it serves on (one machine, two nodes)."""
    assert PLACEHOLDER in command
    argv = shlex.split(command.replace(PLACEHOLDER, public_url))
    assert argv[:2] == ["streamr-node", "register"]
    extra = ["--config", str(agent.config), "--listen", f"127.0.0.1:{agent.port}", "--data-dir", str(agent.workdir)]
    return agent.run_cli(*argv[1:], "--name", agent.name, *extra)


def node_state(site: str, agent: VenvAgent) -> dict[str, Any]:
    answer = httpx.get(site + "/api/v1/nodes/me", headers={"Authorization": f"Bearer {agent.api_key()}"}, timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


@pytest.fixture
def fresh_venv(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """``python -m venv`` (with its own pip: the friend's machine has no project environment), made in
    the background while the friend signs up, so it is ready when the page shows the pip command."""
    venv = tmp_path / "friend-venv"
    making = subprocess.Popen(
        [sys.executable, "-m", "venv", str(venv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # ensurepip runs in a child: a kill must reach it too
    )
    try:
        yield venv, making
    finally:
        if making.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(making.pid, signal.SIGKILL)
        making.wait()


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, make_stream: Callable[..., Any]) -> Iterator[dict[str, Any]]:
    """The site (web tier + worker), an origin whose hooks admit the publish, and alice live."""
    require_browser()
    require_media()
    Schedule.objects.all().delete()  # only the jobs this test queues: no spot-check run meddles
    stream, key = make_stream("alice", title="Alice live", reward_rate_per_hour=Decimal("360.00"))
    with contextlib.ExitStack() as exits:
        exits.callback(_disconnected)  # runs last: after the site and the worker stopped
        site = AsgiSite(
            tmp_path / "site", HEARTBEAT_INTERVAL_SECONDS="2", NODE_ALLOW_PRIVATE_URLS="true", PGAPPNAME=APP_NAME
        )
        origin = NginxRtmpOrigin(
            tmp_path / "origin", hook_base_url=site.url, secret=django_settings.HOOK_SECRET, update_seconds=2
        )
        site.env.update(
            ORIGIN_RTMP_URL=f"rtmp://127.0.0.1:{origin.rtmp_port}/{{app}}/{{stream}}",
            ORIGIN_HLS_URL=f"http://127.0.0.1:{origin.http_port}/hls/{{stream}}.m3u8",
            HOOK_SECRET=django_settings.HOOK_SECRET,
        )
        worker_env = dict(site.env)
        if not site.env.get("REDIS_URL"):  # without Redis the worker's pushes reach pages via the outbox
            site.env[live_outbox.ROLE_ENV], worker_env[live_outbox.ROLE_ENV] = "drain", "write"
        exits.enter_context(site)
        worker = exits.enter_context(Worker(tmp_path / "site", worker_env))
        exits.enter_context(origin)
        publisher = publish_test_source(origin.rtmp_url("alice", key), seconds=180)
        exits.callback(stop_process, publisher)
        try:
            yield {"site": site, "origin": origin, "stream": stream, "worker": worker}
        finally:
            print(f"--- web ---\n{site.log()[-3000:]}\n--- worker ---\n{worker.log()[-3000:]}")


def _disconnected(timeout: float = 10.0) -> None:
    """PostgreSQL ends a killed process's sessions a moment later: wait until the site's and the
    worker's are gone, so the test database can be dropped after the last test (it cannot while
    anyone is connected)."""
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                [APP_NAME],
            )
            if cursor.fetchone() == (0,):
                return
        time.sleep(0.2)


@pytest.mark.timeout(300)  # ~90 s here; pip's downloads and a loaded CI machine get the margin
def test_a_new_friend_goes_from_an_invite_link_to_an_earning_node(stack, fresh_venv, browser, screenshot, tmp_path):
    started = time.monotonic()
    site: AsgiSite = stack["site"]
    _, link = account_services.create_invite("newfriend@example.com")
    agents: list[VenvAgent] = []
    try:
        # 1. The invite link: sign up, land on "My nodes", follow "Add your first node".
        page = browser.new_context().new_page()
        page.goto(site.url + urlsplit(link).path)
        screenshot(page, "01-invite")
        print(f"{time.monotonic() - started:5.1f} s  01-invite")
        page.fill("#id_username", "newfriend")
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        page.click("text=Create my account")
        page.wait_for_url(site.url + "/me")
        page.click("text=Add your first node")
        page.wait_for_url(site.url + "/nodes/add")
        screenshot(page, "02-add-node")
        print(f"{time.monotonic() - started:5.1f} s  02-add-node")

        # 2. Install: the exact command shown, with a fresh virtualenv's pip (in the background
        # while the friend goes on: it is the slow part).
        install = page.text_content('pre[data-command="install"]') or ""
        argv = shlex.split(install)
        assert argv[:2] == ["pip", "install"] and argv[2].startswith(site.url + "/agent/streamr_node-")
        venv, making = fresh_venv
        made = making.communicate(timeout=120)[0]
        assert making.returncode == 0, made.decode(errors="replace")
        installing = subprocess.Popen(
            [str(venv / "bin" / "pip"), *argv[1:]],  # the shown command, with the venv's pip
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        install_started = time.monotonic()

        # 3. A token: the register and run commands appear, and the line that waits for the node.
        page.click("text=Create enrollment token")
        page.wait_for_selector("[data-first-beat].waiting")
        page.wait_for_selector('[data-live-state][data-state="open"]', timeout=10_000)
        assert page.text_content('pre[data-command="run"]') == "streamr-node run"
        screenshot(page, "03-token")
        print(f"{time.monotonic() - started:5.1f} s  03-token")
        register = shown_register_command(page)

        try:
            out, _ = installing.communicate(timeout=240)
        finally:
            if installing.poll() is None:
                installing.kill()
                installing.wait()
        install_seconds = time.monotonic() - install_started
        print(f"pip install of the site's wheel and its dependencies: {install_seconds:.1f} s")
        assert installing.returncode == 0, out.decode(errors="replace")[-3000:]

        # 4. Register as shown and run: the page turns green when the first heartbeat arrives.
        eventually(lambda: StreamSession.objects.filter(ended_at__isnull=True).exists(), 20, "alice is live")
        den = VenvAgent(tmp_path / "agents", name="den", coordinator=site.url, venv=venv)
        agents.append(den)
        done = register_as_shown(den, register, den.base_url)
        assert done.returncode == 0, done.stderr
        den.start()
        page.wait_for_selector("[data-first-beat].arrived", timeout=20_000)
        assert "is connected" in (page.text_content("[data-first-beat]") or "")
        screenshot(page, "04-first-heartbeat")
        print(f"{time.monotonic() - started:5.1f} s  04-first-heartbeat")

        # 5. Reachable (the site's probe at the first heartbeat), earning, an estimate above zero.
        def earning_now() -> bool:
            state = node_state(site.url, den)
            return bool(state["reachability"]["ok"] and state["earning"]["ok"])

        eventually(earning_now, 40, "the node is reachable and earning", every=1)
        state = node_state(site.url, den)
        assert state["reachability"]["verdict"] == "ok"

        def estimate() -> Decimal:
            body = page.request.get(site.url + "/api/v1/earnings").json()
            return Decimal(body["open_hour"]["nodes"].get(str(state["node_id"]), "0"))

        eventually(lambda: estimate() > 0, 30, "the open hour's estimate is above zero", every=1)
        status = den.run_cli("status", "--config", str(den.config))
        assert "reachability: ok" in status.stdout and "earning:      yes" in status.stdout, status.stdout
        page.goto(site.url + "/me")
        row = f'[data-node="{state["node_id"]}"]'
        assert page.text_content(f'{row} [data-field="reach"]') == "yes"
        assert page.text_content(f'{row} [data-field="earning"]') == "yes"
        assert Decimal(page.text_content(f'{row} [data-field="estimate"]') or "0") > 0
        assert Decimal(page.text_content('[data-field="open-hour-estimate"]') or "0") > 0
        screenshot(page, "05-me-earning")
        print(f"{time.monotonic() - started:5.1f} s  05-me-earning")

        # 6. A second node behind a public URL nobody answers (no port forwarded on the router).
        page.goto(site.url + "/nodes/add")
        page.click("text=Create enrollment token")
        page.wait_for_selector("[data-first-beat].waiting")
        attic = VenvAgent(tmp_path / "agents", name="attic", coordinator=site.url, venv=venv)
        agents.append(attic)
        closed = free_port()  # nothing listens there: what a viewer meets without port forwarding
        done = register_as_shown(attic, shown_register_command(page), f"http://127.0.0.1:{closed}")
        assert done.returncode == 0, done.stderr
        attic.start()
        page.wait_for_selector("[data-first-beat].arrived", timeout=20_000)
        assert "attic" in (page.text_content("[data-first-beat]") or "")

        def probed_unreachable() -> bool:
            return node_state(site.url, attic)["reachability"]["verdict"] not in {"unknown", "ok"}

        eventually(probed_unreachable, 30, "the site probed the second node", every=1)
        unreachable = node_state(site.url, attic)
        assert unreachable["reachability"]["ok"] is False
        assert unreachable["reachability"]["verdict"] in {"refused", "timeout", "error"}
        assert f"forward TCP port {closed}" in unreachable["reachability"]["detail"]
        assert unreachable["earning"]["ok"] is False
        assert unreachable["earning"]["why"].startswith("Viewers cannot reach it")
        doctor = attic.run_cli("doctor", "--config", str(attic.config))
        assert doctor.returncode == 1 and "FAIL  reachability" in doctor.stdout, doctor.stdout
        assert f"forward TCP port {closed}" in doctor.stdout
        page.goto(site.url + "/me")
        row = f'[data-node="{unreachable["node_id"]}"]'
        assert page.text_content(f'{row} [data-field="reach"]') == "no"
        assert f"forward TCP port {closed}" in (page.text_content(f'{row} [data-field="reach-detail"]') or "")
        assert page.text_content(f'{row} [data-field="earning"]') == "no"
        why = page.text_content(f'{row} [data-field="earning-why"]') or ""
        assert why.strip().startswith("Viewers cannot reach it")
        screenshot(page, "06-me-unreachable")
        print(f"{time.monotonic() - started:5.1f} s  06-me-unreachable")
        print(f"first hour, end to end: {time.monotonic() - started:.1f} s")
    finally:
        for agent in agents:
            code = agent.stop()
            print(f"--- {agent.name} (exit {code}) ---\n" + "\n".join(agent.log().splitlines()[-20:]))
        # The ORM calls above ran inside Playwright's event loop, which gives them a connection of
        # their own: closed here, or it would still hold the test database when pytest drops it.
        connections.close_all()
