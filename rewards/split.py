"""Splitting a pool among contributors so the shares add up to the pool to the cent."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_DOWN)


def sum_to_cents(value: object) -> Decimal:
    """A database sum of money, in cents (None: nothing summed). SQLite adds decimals as floats;
    PostgreSQL already answers exactly."""
    return Decimal(str(value or 0)).quantize(CENT)


def split_pool(pool: Decimal, weights: Mapping[int, Decimal]) -> dict[int, Decimal]:
    """Largest remainder: every share is a whole number of cents and the shares sum to ``pool``.

    Ties go to the lower key, so the same inputs always give the same split.
    """
    total = sum(weights.values(), Decimal(0))
    cents = int(to_cents(pool) / CENT)
    if cents <= 0 or total <= 0:
        return {}
    exact = {key: Decimal(cents) * weight / total for key, weight in weights.items() if weight > 0}
    shares = {key: int(value.to_integral_value(rounding=ROUND_FLOOR)) for key, value in exact.items()}
    left = cents - sum(shares.values())
    for key in sorted(exact, key=lambda k: (-(exact[k] - shares[k]), k))[:left]:
        shares[key] += 1
    return {key: Decimal(count) * CENT for key, count in shares.items() if count}
