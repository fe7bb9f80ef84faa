"""The agent's configuration file."""

from __future__ import annotations

import json
import stat

import pytest
from streamr_node.config import Config, ConfigError, load, parse_listen, save


def make_config(**overrides):
    values = dict(coordinator="http://site", node_id=3, api_key="nk_secret", public_url="http://n:8090", name="n")
    values.update(overrides)
    return Config(**values)


def test_saves_owner_only_and_loads_back(tmp_path):
    path = tmp_path / "deep" / "config.json"
    save(make_config(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load(path) == make_config()


def test_overwriting_keeps_the_file_private(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{}")
    path.chmod(0o644)
    save(make_config(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_missing_file_says_to_register(tmp_path):
    with pytest.raises(ConfigError, match="register"):
        load(tmp_path / "none.json")


@pytest.mark.parametrize("content", ["not json", json.dumps({"coordinator": "x"})])
def test_a_broken_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(ConfigError):
        load(path)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0.0.0.0:8090", ("0.0.0.0", 8090)),
        ("127.0.0.1:1", ("127.0.0.1", 1)),
        ("[::]:80", ("::", 80)),
        (":9", ("0.0.0.0", 9)),
    ],
)
def test_parses_listen_addresses(value, expected):
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["8090", "host:", "host:http", "h:70000", "h:0"])
def test_refuses_bad_listen_addresses(value):
    with pytest.raises(ConfigError):
        parse_listen(value)
