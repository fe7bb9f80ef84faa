"""Emails in tests as production sends them: after commit, through the django-q2 job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django_q.conf import Conf


@pytest.fixture
def mail_now(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> Iterator[Callable[[], AbstractContextManager[Any]]]:
    """``with mail_now(): ...`` runs the block, then what it left for after commit; the email jobs
    it queues run at once in this process (django-q2's sync mode) into ``mail.outbox``."""
    monkeypatch.setattr(Conf, "SYNC", True)
    yield lambda: django_capture_on_commit_callbacks(execute=True)
