"""The layers contract (pyproject.toml, run by `make lint`) holds, and it catches an import that
breaks a layer, function-level ones included."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PACKAGES = ["core", "streams", "accounts", "nodes", "validation", "rewards", "web", "streamrp2p_site", "testkit"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the project's packages and contracts to break on purpose."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    # The agent too: the copy comes first on the path, before the editable install of the original.
    shutil.copytree(
        ROOT / "node_agent" / "streamr_node", tmp_path / "streamr_node", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=where, capture_output=True, text=True, timeout=120
    )


def add_to(path: Path, code: str) -> None:
    path.write_text(path.read_text() + "\n\n" + code + "\n")


def test_the_project_keeps_its_layers():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


BROKEN_LAYERS = {
    "an upward import inside a function": (
        "nodes/services/approval.py",
        "def _sneaky() -> None:\n    from rewards import reports  # noqa: F401",
        "nodes is not allowed to import rewards",
    ),
    "the kernel importing an app": (
        "core/users.py",
        "from streams.models import Stream  # noqa: F401",
        "core is not allowed to import streams",
    ),
    "one app importing its sibling in the same layer": (
        "accounts/services.py",
        "from streams import keys  # noqa: F401",
        "accounts is not allowed to import streams",
    ),
    "the product importing the test harness": (
        "web/ops.py",
        "from testkit import media  # noqa: F401",
        "web is not allowed to import testkit",
    ),
    "the product importing a test module (through which it could reach any layer)": (
        "nodes/services/approval.py",
        "def _helper() -> None:\n    from nodes.tests import fixtures  # noqa: F401",
        "nodes.services.approval -> nodes.tests.fixtures",
    ),
    "the node agent importing Django": (
        "streamr_node/config.py",
        "from django.conf import settings  # noqa: F401",
        "streamr_node is not allowed to import django",
    ),
    "the node agent importing the site": (
        "streamr_node/agent.py",
        "def _peek() -> None:\n    from core import tokens  # noqa: F401",
        "streamr_node is not allowed to import core",
    ),
}


@pytest.mark.parametrize(("module", "code", "message"), BROKEN_LAYERS.values(), ids=BROKEN_LAYERS.keys())
def test_lint_imports_fails_on(tree, module, code, message):
    add_to(tree / module, code)
    done = lint_imports(tree)
    assert done.returncode == 1
    assert message in done.stdout
