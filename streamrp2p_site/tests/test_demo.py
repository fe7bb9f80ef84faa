"""`make demo` runs the whole pipeline, prints a summary that says every part worked, and leaves
no process behind."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings

from streamrp2p_site.demo import PASSWORDS
from testkit.media import free_port, require_media

pytestmark = pytest.mark.live
ROOT = Path(settings.BASE_DIR)


def demo_processes(marker: str) -> list[str]:
    """Command lines of processes still running from this demo: its environment (which every
    process it starts inherits) carries ``marker``, or its command line names the demo's files
    (nginx rewrites its environment block with its process title). Only this demo's: the suite runs
    on two workers (`make test`), and the other one may be running `manage.py serve` right now."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(ROOT / ".local" / "demo") in line or marker.encode() in environ:
            found.append(line)
    return found


def watch_the_money_fill(site: str, demo: subprocess.Popen[str]) -> dict[str, Any]:
    """Log in as the demo's friend and poll the earnings and leaderboard APIs until both show
    settled money, while the demo still runs; what was seen (empty if the demo ended first)."""
    seen: dict[str, Any] = {"earned": Decimal(0), "leaderboard": []}
    client = httpx.Client(base_url=site, timeout=5)
    signed_in = False
    while demo.poll() is None:
        time.sleep(1)
        try:
            if not signed_in:
                client.get("/accounts/login/")
                client.post(
                    "/accounts/login/",
                    data={
                        "username": "friend",
                        "password": PASSWORDS["friend"],
                        "csrfmiddlewaretoken": client.cookies["csrftoken"],
                    },
                )
                signed_in = "sessionid" in client.cookies
                continue
            seen["earned"] = Decimal(client.get("/api/v1/earnings?by=hour&days=2").json()["total"])
            seen["leaderboard"] = client.get("/api/v1/leaderboard?window=7d").json()["friends"]
        except (httpx.HTTPError, KeyError, ValueError):
            continue  # the site is not up yet
        if seen["earned"] > 0 and seen["leaderboard"]:
            print(f"while the demo ran: earned {seen['earned']}, leaderboard {seen['leaderboard']}")
            break
    client.close()
    return seen


@pytest.mark.timeout(240)
def test_a_bounded_demo_shows_every_part_working_and_cleans_up(tmp_path):
    require_media()
    marker = f"STREAMR_DEMO_TEST={uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update([marker.split("=", 1)])
    env["DEMO_PORT"] = str(port := free_port())
    out, err = (tmp_path / "demo.out").open("w+"), (tmp_path / "demo.err").open("w+")  # no pipe to fill up
    demo = subprocess.Popen(["make", "demo", "DEMO_SECONDS=45"], cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
    try:
        seen = watch_the_money_fill(f"http://127.0.0.1:{port}", demo)
        demo.wait(timeout=200)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    stdout, stderr = (tmp_path / "demo.out").read_text(), (tmp_path / "demo.err").read_text()
    summary = stdout[stdout.find("=== demo summary ===") :]
    print(stdout[-3000:], stderr[-2000:])
    # While it ran: the friend's settled earnings and the leaderboard had filled (demo hours).
    assert seen["earned"] > Decimal(0) and seen["leaderboard"][0]["friend"] == "friend", seen
    assert demo.returncode == 0
    assert "stream 'demo' live: yes" in summary and "nodes relaying at the end: 2" in summary
    assert "=== all parts worked ===" in summary and "credited 0.00" not in summary
    assert demo_processes(marker) == []
