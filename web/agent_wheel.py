"""The friend's agent as a wheel, assembled from ``node_agent/`` with zipfile (no build backend, no
network, no build isolation): friends install it with ``pip install <the site's URL of it>``.

A wheel is a zip with the package's files and a ``.dist-info`` folder (PEP 427, PEP 491); the
metadata comes from ``node_agent/pyproject.toml``. Built wheels are cached on disk under a folder
named by a digest of the sources, so a changed agent gets a new build and an unchanged one is never
built twice. Concurrency-safe without a lock: a build is written to a temporary file beside its
final name and renamed into place (atomic), and two concurrent builds of one digest are byte-equal
(fixed timestamps, sorted entries). Django-free, so the image's build can call it:
``python -m web.agent_wheel node_agent .local/agent``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Zip timestamps (1980 is the earliest a zip can hold): equal sources give byte-equal wheels.
EPOCH = (1980, 1, 1, 0, 0, 0)
TAG = "py3-none-any"  # pure Python; the agent runs on any CPython >= 3.11


class AgentSourceError(Exception):
    """``node_agent/`` is missing or its pyproject.toml lacks what a wheel needs."""


@dataclass(frozen=True)
class AgentSource:
    root: Path
    name: str  # the project name, e.g. "streamr-node"
    version: str
    project: dict[str, Any]
    files: tuple[Path, ...]  # the package's files, relative to root, sorted
    digest: str  # of everything that goes into the wheel

    @property
    def distribution(self) -> str:
        """The name as wheel filenames spell it (PEP 427: runs of -_. become one underscore)."""
        return re.sub(r"[-_.]+", "_", self.name).lower()

    @property
    def filename(self) -> str:
        return f"{self.distribution}-{self.version}-{TAG}.whl"


def read_source(root: Path) -> AgentSource:
    """The agent's sources and metadata as they are on disk now."""
    try:
        pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AgentSourceError(f"cannot read {root / 'pyproject.toml'}: {exc}") from None
    project = pyproject.get("project", {})
    name, version = project.get("name"), project.get("version")
    if not name or not version:
        raise AgentSourceError(f"{root / 'pyproject.toml'} names no project name and version")
    includes = pyproject.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {}).get("include", [])
    packages = sorted({pattern.rstrip("*").rstrip(".") for pattern in includes}) or [re.sub(r"[-.]", "_", name)]
    files: list[Path] = []
    for package in packages:
        folder = root / package
        for path in folder.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}:
                files.append(path.relative_to(root))
    if not files:
        raise AgentSourceError(f"no package files under {root} (looked for {', '.join(packages)})")
    files.sort(key=lambda p: p.as_posix())
    digest = hashlib.sha256()
    for relative in [Path("pyproject.toml"), Path("README.md"), *files]:
        path = root / relative
        if path.exists():
            digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return AgentSource(root, name, version, project, tuple(files), digest.hexdigest())


def _metadata(source: AgentSource) -> str:
    project = source.project
    lines = ["Metadata-Version: 2.1", f"Name: {source.name}", f"Version: {source.version}"]
    if project.get("description"):
        lines.append(f"Summary: {project['description']}")
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {requirement}" for requirement in project.get("dependencies", [])]
    readme = source.root / str(project.get("readme", "README.md"))
    if readme.is_file():
        lines.append("Description-Content-Type: text/markdown")
        return "\n".join(lines) + "\n\n" + readme.read_text()
    return "\n".join(lines) + "\n"


def _entry_points(source: AgentSource) -> str:
    scripts = source.project.get("scripts", {})
    if not scripts:
        return ""
    return "[console_scripts]\n" + "".join(f"{name} = {target}\n" for name, target in sorted(scripts.items())) + "\n"


def wheel_bytes(source: AgentSource) -> bytes:
    """The wheel of ``source``, byte-equal for equal sources."""
    info = f"{source.distribution}-{source.version}.dist-info"
    entries: list[tuple[str, bytes]] = [(p.as_posix(), (source.root / p).read_bytes()) for p in source.files]
    top_level = sorted({p.parts[0] for p in source.files})
    entries.append((f"{info}/METADATA", _metadata(source).encode()))
    entries.append(
        (f"{info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: streamrp2p\nRoot-Is-Purelib: true\nTag: {TAG}\n".encode())
    )
    entries.append((f"{info}/top_level.txt", ("\n".join(top_level) + "\n").encode()))
    if scripts := _entry_points(source):
        entries.append((f"{info}/entry_points.txt", scripts.encode()))
    record = [f"{name},sha256={_urlsafe_digest(data)},{len(data)}" for name, data in entries]
    entries.append((f"{info}/RECORD", ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            entry = zipfile.ZipInfo(name, date_time=EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return buffer.getvalue()


def _urlsafe_digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def cached_wheel(source: AgentSource, cache_dir: Path) -> Path:
    """The built wheel of ``source`` under ``cache_dir/<digest>/``: built now if missing."""
    folder = cache_dir / source.digest[:16]
    target = folder / source.filename
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    data = wheel_bytes(source)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".building-", suffix=".whl")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)  # atomic: a reader sees no file or the whole wheel
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m web.agent_wheel NODE_AGENT_DIR CACHE_DIR", file=sys.stderr)
        return 2
    path = cached_wheel(read_source(Path(argv[0])), Path(argv[1]))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
