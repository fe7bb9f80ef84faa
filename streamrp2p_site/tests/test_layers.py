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


def test_an_upward_import_inside_a_function_breaks_the_layers(tree):
    add_to(tree / "nodes" / "services.py", "def _sneaky() -> None:\n    from rewards import reports  # noqa: F401")
    done = lint_imports(tree)
    assert done.returncode == 1
    assert "nodes is not allowed to import rewards" in done.stdout


def test_the_kernel_imports_no_app(tree):
    add_to(tree / "core" / "users.py", "from streams.models import Stream  # noqa: F401")
    done = lint_imports(tree)
    assert done.returncode == 1
    assert "core is not allowed to import streams" in done.stdout


def test_sibling_apps_of_one_layer_stay_independent(tree):
    add_to(tree / "accounts" / "services.py", "from streams import keys  # noqa: F401")
    done = lint_imports(tree)
    assert done.returncode == 1
    assert "accounts is not allowed to import streams" in done.stdout


def test_the_product_never_imports_the_test_harness(tree):
    add_to(tree / "web" / "ops.py", "from testkit import media  # noqa: F401")
    done = lint_imports(tree)
    assert done.returncode == 1
    assert "web is not allowed to import testkit" in done.stdout and "web.ops -> testkit.media" in done.stdout
