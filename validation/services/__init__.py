"""The one place that changes validation state: spot-checks and trust (``spotchecks``), and what
viewers attest a node delivered to them (``delivery``)."""

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
    "failed_windows",
    "issue_ticket",
    "judge",
    "read_ticket",
    "record_origin_frames",
    "reinstate",
    "report_segments",
    "sample_origin",
    "spot_check",
]
