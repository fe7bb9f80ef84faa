"""Settings: embedded defaults, one env var to switch engines, loud failure on bad values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import env

ROOT = Path(__file__).resolve().parents[2]


def load_settings(**environ: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with exactly these variables set."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    code = (
        "import django, json; from django.conf import settings; django.setup(); "
        "print(json.dumps([settings.DATABASES['default']['ENGINE'],"
        " settings.CHANNEL_LAYERS['default']['BACKEND'], sorted(settings.Q_CLUSTER)]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "streamrp2p_site.settings", **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_need_no_configuration():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    engine, layer, q_keys = json.loads(result.stdout)
    assert engine == "django.db.backends.sqlite3"
    assert layer == "channels.layers.InMemoryChannelLayer"
    assert "orm" in q_keys


def test_database_and_redis_urls_switch_to_postgresql_and_redis():
    result = load_settings(DATABASE_URL="postgres://postgres@127.0.0.1:5432/test", REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr
    engine, layer, q_keys = json.loads(result.stdout)
    assert engine == "django.db.backends.postgresql"
    assert layer == "channels_redis.core.RedisChannelLayer"
    assert "redis" in q_keys and "orm" not in q_keys


def test_refuses_to_start_with_the_development_key_when_debug_is_off():
    result = load_settings(DEBUG="false", HOOK_SECRET="a-real-hook-secret")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_refuses_to_start_with_the_development_hook_secret_when_debug_is_off():
    result = load_settings(DEBUG="false", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "HOOK_SECRET" in result.stderr


def test_starts_in_production_mode_when_secrets_and_redis_are_set():
    result = load_settings(
        DEBUG="false",
        SECRET_KEY="x" * 50,
        HOOK_SECRET="h" * 32,
        ALLOWED_HOSTS="example.org",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr


def test_refuses_production_without_redis():
    result = load_settings(DEBUG="false", SECRET_KEY="x" * 50, HOOK_SECRET="h" * 32, ALLOWED_HOSTS="example.org")
    assert result.returncode != 0 and "REDIS_URL" in result.stderr


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("DEBUG", "maybe", "DEBUG must be one of"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL must be a URL"),
    ],
)
def test_a_bad_value_stops_the_process_with_its_name(name, value, message):
    result = load_settings(**{name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_env_readers_parse_and_fail_loudly(monkeypatch):
    monkeypatch.setenv("N", "12")
    monkeypatch.setenv("FLAG", "Off")
    monkeypatch.setenv("AMOUNT", "2.50")
    monkeypatch.setenv("HOSTS", "a.example, b.example,")
    assert env.env_int("N", 1) == 12
    assert env.env_bool("FLAG", True) is False
    assert env.env_decimal("AMOUNT", Decimal(0)) == Decimal("2.50")
    assert env.env_list("HOSTS", []) == ["a.example", "b.example"]
    assert env.env_int("UNSET_VARIABLE", 7) == 7
    monkeypatch.setenv("N", "twelve")
    with pytest.raises(ImproperlyConfigured, match="N must be an integer"):
        env.env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env.env_int("N", 1, minimum=1)
    monkeypatch.setenv("AMOUNT", "Infinity")
    with pytest.raises(ImproperlyConfigured, match="finite"):
        env.env_decimal("AMOUNT", Decimal(0))


def production_value(name: str, **environ: str) -> str:
    """One setting as production (DEBUG off, real secrets, Redis) loads it."""
    production = {"DEBUG": "false", "SECRET_KEY": "k" * 50, "HOOK_SECRET": "h" * 20, "REDIS_URL": "redis://r:6379/0"}
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "streamrp2p_site.settings", **production, **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_production_holds_new_nodes_for_approval_unless_told_otherwise():
    assert production_value("NODE_APPROVAL_REQUIRED") == "True"
    assert production_value("NODE_APPROVAL_REQUIRED", NODE_APPROVAL_REQUIRED="false") == "False"
    assert production_value("NODE_MAX_PER_USER") == "3"
