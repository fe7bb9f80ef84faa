"""Every template the site ships is the one Django loads under its name (none is shadowed by a
same-named template of another app, such as the admin's registration pages)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import get_template

ROOT = Path(settings.BASE_DIR)
SHIPPED = sorted(
    (folder, path.relative_to(folder).as_posix())
    for folder in (ROOT / "web" / "templates", ROOT / "rewards" / "templates")
    for path in folder.rglob("*.html")
)


def test_the_site_ships_its_pages_and_the_admins_forms():
    names = {name for _, name in SHIPPED}
    assert {"base.html", "registration/password_change_form.html", "admin/rewards/action_text.html"} <= names


@pytest.mark.parametrize(("folder", "name"), SHIPPED, ids=[name for _, name in SHIPPED])
def test_loads_from_its_own_file(folder, name):
    assert Path(get_template(name).origin.name) == folder / name


def test_the_password_change_page_is_the_sites_own(client, friend):
    client.force_login(friend)
    page = client.get("/accounts/password_change/")
    assert page.status_code == 200
    assert [t.name for t in page.templates][:2] == ["registration/password_change_form.html", "base.html"]
