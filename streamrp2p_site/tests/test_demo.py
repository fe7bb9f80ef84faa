"""`make demo` runs the whole pipeline, prints a summary that says every part worked, and leaves
no process behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from testkit.media import require_media

pytestmark = pytest.mark.live
ROOT = Path(settings.BASE_DIR)


def demo_processes() -> list[str]:
    """Command lines of processes still running with the demo's files (nginx, agents, site)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if ".local/demo/" in line or "manage.py serve --port" in line or "manage.py demo" in line:
            found.append(line)
    return found


@pytest.mark.timeout(240)
def test_a_bounded_demo_shows_every_part_working_and_cleans_up():
    require_media()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    done = subprocess.run(
        ["make", "demo", "DEMO_SECONDS=45"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=200
    )
    summary = done.stdout[done.stdout.find("=== demo summary ===") :]
    print(done.stdout[-3000:], done.stderr[-2000:])
    assert done.returncode == 0
    assert "stream 'demo' live: yes" in summary and "nodes relaying at the end: 2" in summary
    assert "=== all parts worked ===" in summary and "credited 0.00" not in summary
    assert demo_processes() == []
