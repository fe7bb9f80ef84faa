"""Browser tests: the site served by the production web tier (`manage.py web`, websockets included), and
Debian's Chromium driven by Playwright (no browser download; headless, --no-sandbox).

``require_browser()`` skips with a one-line reason where Chromium or Playwright is missing, and
fails instead under ``STREAMR_REQUIRE_MEDIA=1`` (CI), so CI cannot pass by skipping these.
Screenshots go to ``test-artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings

from testkit.media import free_port, require, stop_process, wait_for_port

CHROMIUM = os.environ.get("STREAMR_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"


def missing_browser() -> str | None:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -r requirements-dev.txt)"
    return None


def require_browser() -> None:
    require(missing_browser(), "browser test")


def database_url() -> str:
    """The test database (as pytest-django set it up), for the server process to share."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class AsgiSite:
    """The production web tier (`manage.py web`: uvicorn, one process) serving the project on a free
    loopback port, against the test database: the browser tests exercise its websockets too."""

    def __init__(self, workdir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "web.log"
        self.env = {**os.environ, "DATABASE_URL": database_url(), "DEBUG": "true", "LOG_LEVEL": "WARNING", **env}
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AsgiSite:
        log = self.log_path.open("wb")
        manage = str(settings.BASE_DIR / "manage.py")
        command = [sys.executable, manage, "web", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        command.append("--skip-collectstatic")  # DEBUG: WhiteNoise serves from the apps' folders
        self.process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_for_port(self.port, timeout=20)
            httpx.get(self.url + "/", timeout=10).raise_for_status()
        except Exception:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the web tier did not start:\n{self.log()}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            stop_process(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def asgi_site(transactional_db: None, tmp_path: Path) -> Iterator[AsgiSite]:
    require_browser()
    with AsgiSite(tmp_path / "asgi") as site:
        yield site
        print(f"--- web ---\n{site.log()[-3000:]}")  # shown by pytest when the test fails


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page: Any, base_url: str, username: str, password: str, lands_on: str = "/me") -> None:
    """Log in through the form; each person lands on their own page (web/views/landing.py)."""
    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + lands_on)
