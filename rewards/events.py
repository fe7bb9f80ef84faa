"""Live events of money: credits from settlement, payout state changes.

Sent with ``core.live.push`` after commit; ``kind`` is what the page scripts listen for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from core.live import LiveEvent


@dataclass(frozen=True)
class Credited(LiveEvent):
    kind: ClassVar[str] = "earnings.credited"
    stream: str
    hour: datetime
    amount: Decimal


@dataclass(frozen=True)
class PayoutChanged(LiveEvent):
    kind: ClassVar[str] = "payout.changed"
    payout_id: int
    status: str
    amount: Decimal
    balance: Decimal
    pending: Decimal
    available: Decimal
