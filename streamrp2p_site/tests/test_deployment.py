"""docker/ holds a deployment that works: SRS's hook URLs reach the site's hook route with the
secret, and the compose file gives the site every setting it needs to start in production."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from django.conf import settings
from django.urls import resolve

from streams.tests.hook_clients import srs_payload

DOCKER = Path(settings.BASE_DIR) / "docker"
SITE_SERVICES = ("migrate", "web", "worker")


def srs_hooks() -> dict[str, list[str]]:
    """Each on_* directive of the http_hooks block, with its URLs."""
    text = re.sub(r"#.*", "", (DOCKER / "srs.conf").read_text()).replace("${HOOK_SECRET}", "HOOK-SECRET")
    block = re.search(r"http_hooks\s*\{(.*?)\}", text, re.S)
    assert block, "srs.conf has no http_hooks block"
    assert re.search(r"\benabled\s+on;", block.group(1))
    found = re.findall(r"\b(on_\w+)\s+([^;]+);", block.group(1))
    return {name: urls.replace("HOOK-SECRET", "${HOOK_SECRET}").split() for name, urls in found}


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)(:\?[^}]*)?\}", lambda m: env[m.group(1)], value)


def site_env(service: str) -> dict[str, str]:
    """What compose gives the service: its env_file (the example), then its environment."""
    spec = compose()["services"][service]
    example = env_file(DOCKER / "env.example")
    assert spec["env_file"] == ".env"
    return {**example, **{k: interpolate(str(v), example) for k, v in spec["environment"].items()}}


def test_srs_sends_publish_play_and_hls_hooks_to_the_sites_srs_route_with_the_secret():
    hooks = srs_hooks()
    assert {"on_publish", "on_unpublish", "on_play", "on_stop", "on_hls"} <= set(hooks)
    web_port = compose()["services"]["web"]["ports"][0].split(":")[-1]
    for urls in hooks.values():
        for url in urls:
            parts = urlsplit(url)
            assert (parts.scheme, parts.hostname, str(parts.port)) == ("http", "web", web_port), url
            assert resolve(parts.path).url_name == "hook-srs", url
            assert parse_qs(parts.query) == {"secret": ["${HOOK_SECRET}"]}, url


@pytest.mark.django_db
def test_the_hook_url_srs_is_given_admits_a_publish(client, stream_and_key):
    _, key = stream_and_key
    url = urlsplit(srs_hooks()["on_publish"][0])
    query = url.query.replace("${HOOK_SECRET}", settings.HOOK_SECRET)
    response = client.post(f"{url.path}?{query}", srs_payload("on_publish", key=key), content_type="application/json")
    assert response.status_code == 200 and response.json() == {"code": 0}


def test_what_srs_and_the_health_checks_call_over_plain_http_is_never_redirected_to_https():
    """Production redirects to https (SECURE_SSL_REDIRECT), but SRS's hooks and compose's health
    checks call web over plain http inside the network."""
    health = " ".join(compose()["services"]["web"]["healthcheck"]["test"])
    paths = [urlsplit(url).path for urls in srs_hooks().values() for url in urls]
    paths += re.findall(r"http://127\.0\.0\.1:8000(/[\w/]*)", health)
    assert "/hooks/srs" in paths and {"/healthz", "/livez", "/readyz"} & set(paths)
    for path in paths:
        assert any(re.search(pattern, path.lstrip("/")) for pattern in settings.SECURE_REDIRECT_EXEMPT), path


def test_srs_gets_the_same_secret_as_the_site_and_writes_hls():
    spec = compose()["services"]["srs"]
    assert spec["image"].startswith("ossrs/srs:5")
    assert spec["environment"]["HOOK_SECRET"].startswith("${HOOK_SECRET")
    assert "./srs.conf:/streamr/srs.conf:ro" in spec["volumes"] and "/streamr/srs.conf" in " ".join(spec["command"])
    text = (DOCKER / "srs.conf").read_text()
    assert re.search(r"hls\s*\{[^}]*enabled\s+on;", text)


def test_every_long_running_service_has_a_health_check_and_data_has_volumes():
    services = compose()["services"]
    assert {"srs", "postgres", "redis", "web", "worker", "migrate"} <= set(services)
    for name in ("srs", "postgres", "redis", "web", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("service", SITE_SERVICES)
def test_the_site_starts_in_production_with_what_compose_gives_it(service):
    env = {"PATH": "/usr/bin:/bin", **site_env(service)}
    assert env["DEBUG"] == "false"
    probe = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'debug': s.DEBUG, 'db': s.DATABASES['default']['ENGINE'], 'redis': s.REDIS_URL, "
        "'hosts': s.ALLOWED_HOSTS, 'csrf': s.CSRF_TRUSTED_ORIGINS, 'rtmp': s.ORIGIN_RTMP_URL, "
        "'hls': s.ORIGIN_HLS_URL, 'site': s.SITE_URL, 'layer': s.CHANNEL_LAYERS['default']['BACKEND'], "
        "'https': [s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0]}))"
    )
    env["DJANGO_SETTINGS_MODULE"] = "streamrp2p_site.settings"
    done = subprocess.run([sys.executable, "-c", probe], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # settings refuse development secrets and bad values
    found = json.loads(done.stdout)
    assert found["debug"] is False and found["db"].endswith("postgresql") and found["redis"] == "redis://redis:6379/0"
    assert found["layer"] == "channels_redis.core.RedisChannelLayer"
    assert found["https"] == [True, True, True]  # never INSECURE_HTTP in the production setup
    assert found["csrf"] and "127.0.0.1" not in found["rtmp"] + found["hls"] + found["site"]
    # The public name, and the names SRS's hooks (web:8000) and the health checks (127.0.0.1) use.
    assert {"streamr.example.org", "web", "127.0.0.1"} <= set(found["hosts"])


def dockerignored(relative: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore, for the patterns ours uses: a name at the top, or ``**/name`` anywhere."""
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif fnmatch.fnmatch(parts[0], pattern):
            return True
    return False


@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the Dockerfile's COPY lines put into /app, minus what .dockerignore keeps out."""
    root = Path(settings.BASE_DIR)
    ignore = [line.strip() for line in (root / ".dockerignore").read_text().splitlines()]
    ignore = [line for line in ignore if line and not line.startswith("#")]
    app = tmp_path_factory.mktemp("image") / "app"
    for source, target in re.findall(r"^COPY (\S+) (\S+)$", (DOCKER / "Dockerfile").read_text(), re.M):
        origin = root / source
        files = [origin] if origin.is_file() else sorted(path for path in origin.rglob("*") if path.is_file())
        for path in files:
            if dockerignored(path.relative_to(root).as_posix(), ignore):
                continue
            destination = app / target / (path.name if origin.is_file() else path.relative_to(origin))
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
    return app


def build_env(tmp_path: Path) -> dict[str, str]:
    """The environment of the Dockerfile's collectstatic step: settings load in production mode."""
    line = re.search(r"^RUN (.*collectstatic.*)$", (DOCKER / "Dockerfile").read_text().replace("\\\n", ""), re.M)
    assert line, "the Dockerfile collects static files at build time"
    assignments = dict(re.findall(r"(\w+)=(\S+)", line.group(1).split("python")[0]))
    return {"PATH": "/usr/bin:/bin", **assignments, "STATIC_ROOT": str(tmp_path / "static")}


def test_the_image_holds_every_layer_of_the_site_but_not_the_test_harness(image_files):
    local = {
        app.split(".")[0] for app in settings.INSTALLED_APPS if (Path(settings.BASE_DIR) / app.split(".")[0]).is_dir()
    }
    for package in [*local, "core"]:
        assert (image_files / package / "__init__.py").is_file(), package
    assert (image_files / "web" / "templates" / "base.html").is_file()
    assert (image_files / "web" / "static" / "vendor" / "hls.js" / "hls.min.js").is_file()
    assert not (image_files / "testkit").exists()
    assert not list(image_files.rglob("tests")), "tests stay out of the image"
    assert not list(image_files.rglob("conftest.py"))


def test_the_site_loads_from_the_image_files_alone(image_files, tmp_path):
    """Every module of the image imports and every URL route resolves without the harness (which
    is not on the path: the site runs from the copied files only)."""
    probe = (
        "import django, importlib, pkgutil; django.setup(); "
        "from django.urls import get_resolver; get_resolver().url_patterns; "
        "from django.conf import settings; "
        "mods = [m.name for p in ['core', *[a for a in settings.INSTALLED_APPS if '.' not in a]] "
        "for m in pkgutil.walk_packages(importlib.import_module(p).__path__, p + '.')]; "
        "[importlib.import_module(m) for m in mods if m.split('.')[0] in "
        "{'core', 'streams', 'accounts', 'nodes', 'validation', 'rewards', 'web', 'streamrp2p_site'}]; "
        "print(len(mods))"
    )
    env = {**build_env(tmp_path), "DJANGO_SETTINGS_MODULE": "streamrp2p_site.settings"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=image_files, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) > 50  # every module, not a handful
    demo = subprocess.run(
        [sys.executable, "manage.py", "demo"], cwd=image_files, env=env, capture_output=True, text=True, timeout=120
    )
    assert demo.returncode != 0 and "source checkout" in demo.stderr  # said plainly, not a traceback


def test_the_images_collectstatic_step_succeeds_in_production_mode(image_files, tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=image_files,
        env=build_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]  # e.g. a vendored file pointing at a missing source map
    assert list((tmp_path / "static" / "vendor" / "hls.js").glob("hls.min.*.js"))  # hashed for long caching
