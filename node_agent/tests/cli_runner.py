"""Runs the installed ``streamr-node`` console script as a friend would, for the CLI tests."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

EXE = str(Path(sys.executable).parent / "streamr-node")


async def run_cli(*args: str) -> tuple[int, str, str]:
    """The console script in its own process, so servers of the test can answer in this loop."""
    process = await asyncio.create_subprocess_exec(
        EXE, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
