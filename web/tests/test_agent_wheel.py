"""The agent as a wheel served by the site: a valid wheel pip installs, cached per source digest,
built safely by concurrent requests, served publicly at a name pip accepts."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from web import agent_wheel

pytestmark = pytest.mark.django_db
SOURCE = Path(django_settings.BASE_DIR) / "node_agent"


@pytest.fixture
def agent_copy(tmp_path: Path) -> Path:
    """A copy of node_agent/ a test may change."""
    copy = tmp_path / "node_agent"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "tests"))
    return copy


@pytest.fixture
def wheel_dirs(settings, tmp_path: Path) -> Path:
    settings.AGENT_WHEEL_DIR = tmp_path / "wheels"
    return Path(settings.AGENT_WHEEL_DIR)


def test_the_wheel_is_named_as_pip_requires_and_holds_the_package_and_its_metadata(tmp_path):
    source = agent_wheel.read_source(SOURCE)
    path = agent_wheel.cached_wheel(source, tmp_path)
    assert path.name == f"streamr_node-{source.version}-py3-none-any.whl"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        info = f"streamr_node-{source.version}.dist-info"
        assert {"streamr_node/__init__.py", "streamr_node/cli.py", f"{info}/METADATA", f"{info}/RECORD"} <= names
        assert not any("__pycache__" in name or name.startswith("tests/") for name in names)
        metadata = archive.read(f"{info}/METADATA").decode()
        assert "Name: streamr-node" in metadata and "Requires-Python: >=3.11" in metadata
        assert "Requires-Dist: aiohttp" in metadata and "Django" not in metadata.split("\n\n")[0]
        assert "streamr-node = streamr_node.cli:main" in archive.read(f"{info}/entry_points.txt").decode()
        # RECORD lists every other file with its real digest and size (pip checks them).
        for line in archive.read(f"{info}/RECORD").decode().splitlines():
            name, digest, size = line.split(",")
            if name == f"{info}/RECORD":
                continue
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={expected}", len(data))


def test_pip_installs_the_wheel_and_its_console_script_runs(tmp_path):
    path = agent_wheel.cached_wheel(agent_wheel.read_source(SOURCE), tmp_path / "wheels")
    target = tmp_path / "installed"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (target / "streamr_node" / "cli.py").is_file()
    assert (target / "bin" / "streamr-node").is_file()  # the console script pip made from the entry point


def test_equal_sources_give_byte_equal_wheels_and_a_change_gives_a_new_build(agent_copy, tmp_path):
    first = agent_wheel.cached_wheel(agent_wheel.read_source(agent_copy), tmp_path / "a")
    again = agent_wheel.cached_wheel(agent_wheel.read_source(agent_copy), tmp_path / "b")
    assert first.read_bytes() == again.read_bytes()
    (agent_copy / "streamr_node" / "backoff.py").write_text("# changed\n")
    changed = agent_wheel.cached_wheel(agent_wheel.read_source(agent_copy), tmp_path / "a")
    assert changed.parent != first.parent and changed.read_bytes() != first.read_bytes()
    assert first.exists()  # the old build stays until someone clears the cache


def test_concurrent_builds_leave_one_complete_wheel(agent_copy, tmp_path):
    source = agent_wheel.read_source(agent_copy)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(agent_wheel.cached_wheel(source, tmp_path).read_bytes())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 1 and len(results) == 8
    built = [p.name for p in (tmp_path / source.digest[:16]).iterdir()]
    assert built == [source.filename]  # no temporary file left behind
    assert zipfile.ZipFile(tmp_path / source.digest[:16] / source.filename).testzip() is None


def test_a_source_without_a_version_is_refused(agent_copy):
    pyproject = agent_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "', 'not_version = "'))
    with pytest.raises(agent_wheel.AgentSourceError, match="no project name and version"):
        agent_wheel.read_source(agent_copy)


def test_the_site_serves_the_wheel_to_anyone_with_an_etag(client, wheel_dirs):
    name = agent_wheel.read_source(SOURCE).filename
    response = client.get(f"/agent/{name}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    assert name in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-cache"
    again = client.get(f"/agent/{name}", headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304
    assert list(wheel_dirs.glob("*/*.whl")) != []  # built on first request, into the configured folder


def test_another_name_is_not_found_and_latest_redirects_to_the_current_wheel(client, wheel_dirs):
    name = agent_wheel.read_source(SOURCE).filename
    assert client.get("/agent/streamr_node-0.0.1-py3-none-any.whl").status_code == 404
    latest = client.get("/agent/latest")
    assert latest.status_code == 302 and latest["Location"] == f"/agent/{name}"
    assert client.post(f"/agent/{name}").status_code == 405


def test_an_image_with_only_the_built_wheel_serves_it(client, settings, wheel_dirs, tmp_path):
    built = agent_wheel.cached_wheel(agent_wheel.read_source(SOURCE), wheel_dirs)
    settings.AGENT_SOURCE_DIR = tmp_path / "no-sources-here"
    assert client.get(f"/agent/{built.name}").status_code == 200


def test_the_image_builds_the_wheel_where_the_site_looks_for_it(client, settings, tmp_path):
    """The Dockerfile copies the agent's sources and runs the builder; the site (AGENT_*_DIR's
    defaults, relative to /app) then serves that very file without building again."""
    dockerfile = (Path(django_settings.BASE_DIR) / "docker" / "Dockerfile").read_text()
    app = tmp_path / "app"
    for source, target in re.findall(r"^COPY (node_agent\S*) (\S+)$", dockerfile, re.M):
        origin = Path(django_settings.BASE_DIR) / source
        if origin.is_file():
            (app / target).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, app / target / origin.name)
        else:
            shutil.copytree(origin, app / target, ignore=shutil.ignore_patterns("__pycache__"))
    build = re.search(r"^RUN (python -m web\.agent_wheel .*)$", dockerfile, re.M)
    assert build, "the Dockerfile builds the agent's wheel"
    command = build.group(1).split()
    done = subprocess.run(
        [sys.executable, *command[1:]],
        cwd=app,
        env={"PYTHONPATH": str(django_settings.BASE_DIR)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    [built] = (app / ".local" / "agent").glob("*/*.whl")
    before = built.stat().st_mtime_ns
    settings.AGENT_SOURCE_DIR, settings.AGENT_WHEEL_DIR = app / "node_agent", app / ".local" / "agent"
    assert client.get(f"/agent/{built.name}").status_code == 200
    assert built.stat().st_mtime_ns == before and len(list((app / ".local" / "agent").glob("*/*.whl"))) == 1
