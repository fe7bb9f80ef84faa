"""Exponential backoff with jitter, so a thousand agents don't retry in lockstep."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self.rng = rng or random.Random()  # noqa: S311  (jitter, not cryptography)

    def next_delay(self) -> float:
        """Delay before the next attempt: base·2^n capped, then scaled by a random 50 to 100 %."""
        ceiling = min(self.cap, self.base * (2**self.failures))
        self.failures += 1
        return float(ceiling * self.rng.uniform(0.5, 1.0))

    def reset(self) -> None:
        self.failures = 0
