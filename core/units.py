"""Numbers in human units for people to read (admin, node pages): "0.07 s", "1.2 MB", "3 min 20 s".

Pure formatting (no rounding of stored values): the admin and the pages call these on display only.
``admin_field`` wraps one for a ModelAdmin's ``list_display``/``readonly_fields`` so the column keeps
its sorting by the raw field.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import admin

Number = int | float | Decimal

BYTE_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"]  # decimal (1 kB = 1,000 B), as network rates are given
EMPTY = "-"


def _trim(value: float, digits: int) -> str:
    """``value`` with at most ``digits`` decimals, trailing zeros dropped ("1.20" → "1.2", "3.0" → "3")."""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def data_size(n: Number | None) -> str:
    """Bytes as "950 B", "1.2 MB", "34.5 GB", "120 TB" (one decimal below 100 of a unit)."""
    if n is None:
        return EMPTY
    size = float(n)
    sign = "-" if size < 0 else ""
    size = abs(size)
    unit = 0
    while size >= 999.5 and unit < len(BYTE_UNITS) - 1:
        size /= 1000
        unit += 1
    if unit == 0:
        return f"{sign}{int(size)} B"
    return f"{sign}{_trim(size, 1 if size < 100 else 0)} {BYTE_UNITS[unit]}"


def seconds(value: Number | None) -> str:
    """A short span in seconds: "0.07 s", "2.5 s", "45 s"; a minute or more as ``duration``."""
    if value is None:
        return EMPTY
    s = float(value)
    if abs(s) >= 60:
        return duration(s)
    digits = 2 if abs(s) < 10 else 1
    return f"{_trim(s, digits)} s"


def milliseconds(value: Number | None) -> str:
    """A latency: "850 ms", "1.2 s" from a thousand milliseconds on."""
    if value is None:
        return EMPTY
    ms = float(value)
    if abs(round(ms)) >= 1000:  # 999.6 ms is "1 s", not "1000 ms"
        return seconds(ms / 1000)
    return f"{round(ms)} ms"


def duration(value: Number | None) -> str:
    """A longer span in seconds: "45 s", "3 min 20 s", "2 h 5 min", "3 d 4 h" (two units at most)."""
    if value is None:
        return EMPTY
    total = round(float(value))
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)  # leading zeros: "3 min 20 s", not "0 d 0 h 3 min"
    shown = [parts[0], *[part for part in parts[1:2] if part[0]]]  # "1 h", not "1 h 0 min"
    return sign + " ".join(f"{amount} {unit}" for amount, unit in shown)


def percent(share: Number | None, digits: int = 0) -> str:
    """A share from 0 to 1 as "74 %"."""
    if share is None:
        return EMPTY
    return f"{_trim(float(share) * 100, digits)} %"


def admin_field(field: str, formatter: Callable[[Any], str], description: str) -> Callable[[Any, Any], str]:
    """A ModelAdmin method showing ``field`` through ``formatter``, sorted by the raw field: assign it
    in the class body (``segment_age = admin_field("newest_segment_age", seconds, "newest segment
    age")``) and name it in ``list_display``/``readonly_fields`` instead of the field."""

    def show(model_admin: Any, obj: Any) -> str:
        return formatter(getattr(obj, field))

    show.__name__ = f"{field}_shown"
    return admin.display(description=description, ordering=field)(show)
