"""Video frame fingerprints that survive re-muxing (DESIGN.md, "Verification").

A frame's fingerprint hashes the bytes of its H.264 slice NAL units (types 1 and 5). Remuxing
with ``-c copy`` (RTMP/FLV at the origin, MPEG-TS in HLS, the node's own HLS) rewraps NAL units —
length prefixes become start codes, AUD/SPS/PPS units are added — but never changes a slice's
bytes, so the same frame has the same fingerprint at the origin and at an honest node.
"""

from __future__ import annotations

import hashlib
import io
import re

import av

SLICE_NAL_TYPES = frozenset({1, 5})  # coded slice of a non-IDR / IDR picture
_START_CODE = re.compile(b"\x00\x00\x01")
FINGERPRINT_BYTES = 16
# Segments start with their PAT/PMT, which name the streams and codecs: probing further (libav's
# 5 MB / 5 s default) only costs time, two thirds of a segment's demux at 8 Mbit/s.
PROBE = {"probesize": "65536", "analyzeduration": "0"}


class MediaError(ValueError):
    """The bytes are not a decodable MPEG-TS segment with H.264 video."""


def slice_nal_units(access_unit: bytes) -> list[bytes]:
    """The slice NAL units of one Annex-B access unit, without start codes or zero padding."""
    starts = [m.end() for m in _START_CODE.finditer(access_unit)]
    units = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(access_unit)
        unit = access_unit[start:end].rstrip(b"\x00")  # a 4-byte start code's zero belongs to neither
        if unit and unit[0] & 0x1F in SLICE_NAL_TYPES:
            units.append(unit)
    return units


def access_unit_fingerprint(access_unit: bytes) -> bytes | None:
    units = slice_nal_units(access_unit)
    if not units:
        return None
    digest = hashlib.blake2b(digest_size=FINGERPRINT_BYTES)
    for unit in units:
        digest.update(len(unit).to_bytes(4, "big"))
        digest.update(unit)
    return digest.digest()


def frame_fingerprints(segment: bytes) -> list[bytes]:
    """Fingerprints of the video frames of one MPEG-TS segment, in decode order."""
    try:
        with av.open(io.BytesIO(segment), mode="r", format="mpegts", options=PROBE) as container:
            if not container.streams.video:
                raise MediaError("no video stream")
            if container.streams.video[0].codec_context.name != "h264":
                raise MediaError("video is not H.264")
            prints = []
            for packet in container.demux(container.streams.video[0]):
                if packet.size == 0:
                    continue
                fingerprint = access_unit_fingerprint(bytes(packet))
                if fingerprint is not None:
                    prints.append(fingerprint)
    except av.FFmpegError as exc:
        raise MediaError(f"undecodable media: {exc}") from None
    if not prints:
        raise MediaError("no H.264 frames")
    return prints
