"""The one place that changes validation state: spot-checks and trust (``spotchecks``), and what
viewers attest a node delivered to them (``delivery``), and pruning what no one needs any more
(``retention``)."""

from validation.services.delivery import (
    DeliveryError,
    ReportResult,
    SegmentReport,
    Ticket,
    attested_bytes,
    issue_ticket,
    read_ticket,
    report_segments,
)
from validation.services.flags import resolve_flags
from validation.services.retention import attested_minute_hours, prune_validation
from validation.services.spotchecks import (
    CheckSkipped,
    Judgement,
    failed_windows,
    judge,
    record_origin_frames,
    reinstate,
    sample_origin,
    spot_check,
)

__all__ = [
    "CheckSkipped",
    "DeliveryError",
    "Judgement",
    "ReportResult",
    "SegmentReport",
    "Ticket",
    "attested_bytes",
    "attested_minute_hours",
    "failed_windows",
    "issue_ticket",
    "judge",
    "prune_validation",
    "read_ticket",
    "record_origin_frames",
    "reinstate",
    "report_segments",
    "resolve_flags",
    "sample_origin",
    "spot_check",
]
