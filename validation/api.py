"""Playback API: which URL a viewer should play a stream from (see playback.py), and the viewers'
reports of what they loaded from a node (see services/delivery.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import error_body
from core.throttle import ScopedThrottle
from streams.models import Stream
from validation import playback, services


class PlaybackSerializer(serializers.Serializer[Any]):
    stream = serializers.CharField()
    live = serializers.BooleanField()
    source = serializers.ChoiceField(choices=["node", "origin"])  # type: ignore[assignment]  # a field, not Field.source
    url = serializers.CharField(help_text="HLS playlist to play.")
    reason = serializers.CharField(help_text="Why this source was chosen.")
    node_id = serializers.IntegerField(allow_null=True)
    node_name = serializers.CharField(allow_null=True)
    candidates = serializers.IntegerField(help_text="Verified nodes relaying the stream now.")
    ticket = serializers.CharField(
        allow_null=True,
        help_text="Report the segments loaded with this ticket (POST /api/v1/playback/reports); none when the "
        "client's address had its tickets this minute.",
    )


class PlaybackView(APIView):
    """Where a viewer should play the stream from: a verified, least-loaded friend node, or the origin.
    ``exclude`` lists node ids that failed for this viewer."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [ScopedThrottle.of("playback")]  # per client address

    @extend_schema(
        parameters=[OpenApiParameter("exclude", str, description="Comma-separated node ids to skip.")],
        responses={
            200: PlaybackSerializer,
            404: OpenApiResponse(description="No such stream."),
            429: OpenApiResponse(description="Too many requests from this address; see Retry-After."),
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        stream = Stream.objects.filter(slug=slug, is_active=True).first()
        if stream is None:
            return Response(error_body("not_found", f"No stream {slug!r}."), status=404)
        raw = request.query_params.get("exclude", "")
        try:
            exclude = {int(part) for part in raw.split(",") if part.strip()}
        except ValueError:
            return Response(error_body("invalid", "exclude must be comma-separated node ids."), status=400)
        choice = playback.choose(
            stream, exclude=exclude, secure=request.is_secure(), address=request.META.get("REMOTE_ADDR", "")
        )
        return Response(PlaybackSerializer(asdict(choice)).data)


class SegmentSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(max_length=400, help_text="The segment's URL on the node, as loaded.")
    bytes = serializers.IntegerField(min_value=1, max_value=services.delivery.MAX_SEGMENT_BYTES)
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", help_text="SHA-256 of the segment's bytes, lowercase hex.")


class ReportSerializer(serializers.Serializer[Any]):
    ticket = serializers.CharField(max_length=400)
    segments = serializers.ListField(child=SegmentSerializer(), max_length=services.delivery.MAX_SEGMENTS_PER_REPORT)


class ReportAnswerSerializer(serializers.Serializer[Any]):
    accepted = serializers.IntegerField(help_text="Segments counted now (each counts once per ticket).")
    bytes = serializers.IntegerField()
    ticket = serializers.CharField(help_text="Use this ticket from now on (renewed before it expires).")


class ReportView(APIView):
    """A viewer's report of the segments it loaded from the node its ticket names: the delivery
    that pays the node."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        request=ReportSerializer,
        responses={
            200: ReportAnswerSerializer,
            400: OpenApiResponse(description="Bad body."),
            401: OpenApiResponse(description="Bad or expired ticket."),
            409: OpenApiResponse(description="The ticket's live session has ended."),
            429: OpenApiResponse(description="Too many reports for this ticket."),
        },
        summary="Report segments loaded from a friend node",
    )
    def post(self, request: Request) -> Response:
        form = ReportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        segments = [
            services.SegmentReport(url=item["url"], size=item["bytes"], sha256=item["sha256"])
            for item in form.validated_data["segments"]
        ]
        result = services.report_segments(form.validated_data["ticket"], segments)
        return Response(ReportAnswerSerializer(asdict(result)).data)
