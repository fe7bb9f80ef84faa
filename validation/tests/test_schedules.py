"""django-q2 runs the validation jobs on a schedule, installed by migration."""

from __future__ import annotations

import pytest
from django_q.models import Schedule

pytestmark = pytest.mark.django_db


def test_spot_checks_origin_history_and_fraud_signals_are_scheduled():
    scheduled = {s.func: s.minutes for s in Schedule.objects.filter(name__startswith="validation:")}
    assert scheduled == {
        "validation.tasks.run_spot_checks": 1,
        "validation.tasks.sample_origins": 1,
        "validation.tasks.detect_fraud": 10,
    }
