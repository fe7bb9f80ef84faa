"""``/dashboard``: the live streams and the friend nodes relaying each, for viewers and tools.

Public and read-only. Its body keeps the shape the first prototype's /dashboard had (``stream_id``,
``node_count``, …), which tools still read; the serializers below document it in /api/schema/.

Anonymous callers see node ids, statuses and counts only: a node's name is its friend's choice
(often their own name) and its public URL is often a home address, so for them ``name`` is
"node #<id>" and ``hls_url`` is empty (same keys, so tools keep working). Any signed-in account
sees both (issue 17).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from nodes import assignment
from nodes.models import Approval, Node, NodeStatus


class IsoDateTimeField(serializers.DateTimeField):
    """Python's ``isoformat()`` (``+00:00``), as this body has always had, not DRF's ``Z`` form."""

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class RelayingNodeSerializer(serializers.Serializer[Any]):
    node_id = serializers.IntegerField()
    name = serializers.CharField(help_text='The node\'s name for signed-in users; "node #<id>" for anyone else.')
    status = serializers.ChoiceField(choices=NodeStatus.choices, help_text="Liveness from its heartbeats.")
    hls_url = serializers.CharField(
        allow_blank=True, help_text="The stream's playlist on this node for signed-in users; empty for anyone else."
    )
    last_seen_at = IsoDateTimeField(allow_null=True, help_text="Its last accepted heartbeat.")


class LiveStreamSerializer(serializers.Serializer[Any]):
    stream_id = serializers.CharField(help_text="The stream's slug.")
    title = serializers.CharField()
    node_count = serializers.IntegerField(help_text="Approved nodes assigned to it that are not offline.")
    nodes = RelayingNodeSerializer(many=True)


class DashboardSerializer(serializers.Serializer[Any]):
    generated_at = IsoDateTimeField()
    streams = LiveStreamSerializer(many=True)


class AlwaysJson(BaseContentNegotiation):
    """JSON whatever the Accept header says: tools that asked for text/html always got JSON here,
    never a 406."""

    def select_parser(self, request: Request, parsers: Any) -> BaseParser:
        return parsers[0]  # type: ignore[no-any-return]

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class DashboardView(APIView):
    """Live streams and the nodes relaying each (approved, not offline); names and URLs for
    signed-in users only."""

    permission_classes = [permissions.AllowAny]
    # The session tells a signed-in user from anyone else; a GET needs no CSRF token, and a bad or
    # expired session reads as anonymous (never a 403 on a public page).
    authentication_classes = [SessionAuthentication]
    content_negotiation_class = AlwaysJson

    @extend_schema(responses={200: DashboardSerializer}, summary="Live streams and the nodes relaying each")
    def get(self, request: Request) -> Response:
        now = timezone.now()
        named = bool(request.user and request.user.is_authenticated)
        relays = Node.objects.filter(approval=Approval.APPROVED, offline_after__gt=now).order_by("pk")
        streams = (
            assignment.live_streams()
            .order_by("slug")
            .prefetch_related(Prefetch("assigned_nodes", queryset=relays, to_attr="relays"))
        )
        body = {
            "generated_at": now,
            "streams": [
                {
                    "stream_id": stream.slug,
                    "title": stream.title,
                    "node_count": len(stream.relays),
                    "nodes": [
                        {
                            "node_id": node.pk,
                            "name": node.name if named else f"node #{node.pk}",
                            "status": node.status_at(now),
                            "hls_url": node.hls_url(stream.slug) if named else "",
                            "last_seen_at": node.last_seen_at,
                        }
                        for node in stream.relays
                    ],
                }
                for stream in streams
            ],
        }
        return Response(DashboardSerializer(body).data)
