"""Retention settings: typed, embedded defaults, and a loud failure on values that would prune
what a clawback or an appeal still needs."""

from __future__ import annotations

import pytest

from streamrp2p_site.tests.test_settings import load_settings


def test_retention_defaults_need_no_configuration(settings):
    assert (settings.RETENTION_DAYS, settings.SPOT_CHECK_FAILURE_RETENTION_DAYS) == (7, 365)
    assert settings.RETENTION_CHUNK_ROWS == 10_000


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"RETENTION_DAYS": "a week"}, "RETENTION_DAYS must be an integer"),
        ({"RETENTION_DAYS": "1"}, "RETENTION_DAYS must be at least 2"),
        ({"RETENTION_DAYS": "2", "VESTING_HOURS": "48"}, "must cover VESTING_HOURS"),
        ({"SPOT_CHECK_FAILURE_RETENTION_DAYS": "3"}, "SPOT_CHECK_FAILURE_RETENTION_DAYS (3) must be at least"),
        ({"RETENTION_CHUNK_ROWS": "10"}, "RETENTION_CHUNK_ROWS must be at least 100"),
    ],
)
def test_refuses_to_start_with_a_retention_that_would_prune_too_soon(environ, named):
    result = load_settings(**environ)
    assert result.returncode != 0
    assert named in result.stderr
