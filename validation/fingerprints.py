"""Video frame fingerprints that survive re-muxing (DESIGN.md, "Verification").

A frame's fingerprint hashes the bytes of its H.264 slice NAL units (types 1 and 5). Remuxing
with ``-c copy`` (RTMP/FLV at the origin, MPEG-TS in HLS, the node's own HLS) rewraps NAL units —
length prefixes become start codes, AUD/SPS/PPS units are added — but never changes a slice's
bytes, so the same frame has the same fingerprint at the origin and at an honest node.

The segments come from nodes, so libav parses them in a separate process with no secrets and with
memory and CPU limits (validation.media_sandbox runs validation.media_worker, which holds the
parse itself).
"""

from __future__ import annotations

from validation import media_sandbox
from validation.media_worker import FINGERPRINT_BYTES

__all__ = ["FINGERPRINT_BYTES", "MediaError", "frame_fingerprints"]


class MediaError(ValueError):
    """The bytes are not a decodable MPEG-TS segment with H.264 video, or parsing them exceeded
    the parser's limits (a message with "exceeded its limits")."""


def frame_fingerprints(segment: bytes) -> list[bytes]:
    """Fingerprints of the video frames of one MPEG-TS segment, in decode order.

    Raises MediaError; media_sandbox.ParserUnavailable when no parser process can start (no
    verdict on the segment)."""
    try:
        return media_sandbox.parse(segment)
    except media_sandbox.Unparsable as exc:
        raise MediaError(str(exc)) from None
