"""Template filters for human units (``{% load units %}``): the formatters of ``core.units``."""

from __future__ import annotations

from typing import Any

from django import template

from core import units

register = template.Library()


@register.filter
def data_size(value: Any) -> str:
    return units.data_size(value)


@register.filter
def seconds(value: Any) -> str:
    return units.seconds(value)


@register.filter
def milliseconds(value: Any) -> str:
    return units.milliseconds(value)


@register.filter
def duration(value: Any) -> str:
    return units.duration(value)


@register.filter
def percent(value: Any) -> str:
    return units.percent(value)
