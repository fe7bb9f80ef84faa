"""The agent's configuration file: written by ``register`` (mode 0600: it holds the API key)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

DEFAULT_LISTEN = "0.0.0.0:8090"


class ConfigError(Exception):
    pass


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "streamr-node" / "config.json"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "streamr-node"


@dataclass
class Config:
    coordinator: str
    node_id: int
    api_key: str
    public_url: str
    name: str
    listen: str = DEFAULT_LISTEN
    data_dir: str = ""

    def listen_address(self) -> tuple[str, int]:
        return parse_listen(self.listen)

    def hls_root(self) -> Path:
        return Path(self.data_dir or default_data_dir()) / "hls"


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen must be HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104  (a relay serves the network)


def save(config: Config, path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(asdict(config), handle, indent=2)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def load(path: Path) -> Config:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"No configuration at {path}: run 'streamr-node register' first.") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}") from None
    known = {f.name for f in fields(Config)}
    try:
        return Config(**{k: v for k, v in raw.items() if k in known})
    except TypeError as exc:
        raise ConfigError(f"{path} is incomplete ({exc}); register again.") from None
