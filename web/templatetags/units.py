"""Template filters for human units (``{% load units %}``): the formatters of ``core.units``,
registered as they are."""

from __future__ import annotations

from django import template

from core import units

register = template.Library()

for _formatter in (units.data_size, units.seconds, units.milliseconds, units.duration, units.percent):
    register.filter(_formatter.__name__, _formatter)
