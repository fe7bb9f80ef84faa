from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone

from core import units
from core.users import signed_in_user
from streams import services
from streams.models import Stream, StreamSession, StreamViewer

RATE = "reward_rate_per_hour"


class LiveFilter(admin.SimpleListFilter):
    title = "live"
    parameter_name = "live"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Live now"), ("no", "Ended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin[Stream]):
    list_display = [
        "slug",
        "title",
        "owner",
        "reward_rate_per_hour",
        "is_active",
        "key_hint",
        "key_rotated_at",
    ]
    list_filter = ["is_active"]
    list_select_related = ["owner"]
    search_fields = ["slug", "title", "owner__username"]
    readonly_fields = ["key_hint", "key_rotated_at", "created_at", "rtmp_publish_url"]
    autocomplete_fields = ["owner"]
    actions = ["rotate_keys", "deactivate", "activate"]

    @admin.display(description="RTMP publish URL")
    def rtmp_publish_url(self, obj: Stream) -> str:
        return f"{obj.rtmp_url()}?key=<stream key>" if obj.pk else "-"

    def save_model(self, request: HttpRequest, obj: Stream, form: ModelForm[Stream], change: bool) -> None:
        if change:
            # The rate is money (each relayer's share of the pool): it changes only through the
            # service, which has the change audited; the other edited fields are saved as they are.
            others = [name for name in form.changed_data if name != RATE]
            if others:
                obj.save(update_fields=others)
            if RATE in form.changed_data:
                services.set_reward_rate(obj, obj.reward_rate_per_hour, actor=signed_in_user(request))
            return
        # A stream made in the admin gets its key from the service, shown once in a message.
        stream, key = services.create_stream(
            owner=obj.owner,
            slug=obj.slug,
            title=obj.title,
            reward_rate_per_hour=obj.reward_rate_per_hour,
            is_active=obj.is_active,
        )
        obj.pk = stream.pk
        obj.refresh_from_db()
        self.message_user(request, _key_message(obj, key), messages.WARNING)

    @admin.action(description="Rotate stream key (shows the new key once)")
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[Stream]) -> None:
        for stream in queryset:
            key = services.rotate_key(stream)
            self.message_user(request, _key_message(stream, key), messages.WARNING)

    @admin.action(description="Deactivate (refuse new publishes)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Stream]) -> None:
        count = services.set_active(queryset, active=False)
        self.message_user(request, f"{count} stream(s) deactivated.")

    @admin.action(description="Activate")
    def activate(self, request: HttpRequest, queryset: QuerySet[Stream]) -> None:
        count = services.set_active(queryset, active=True)
        self.message_user(request, f"{count} stream(s) activated.")


def _key_message(stream: Stream, key: str) -> str:
    return (
        f"Stream key for {stream.slug}: {key} — copy it now, it is not shown again. "
        f"Publish to {stream.rtmp_url()}?key={key}"
    )


@admin.register(StreamSession)
class StreamSessionAdmin(admin.ModelAdmin[StreamSession]):
    list_display = ["stream", "started_at", "ended_at", "lasted", "end_reason", "origin", "client_id", "publisher_ip"]
    list_filter = [LiveFilter, "origin", "end_reason", "started_at", "stream"]
    list_select_related = ["stream"]
    search_fields = ["stream__slug", "client_id", "publisher_ip"]
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in StreamSession._meta.fields]
    actions = ["end_sessions"]

    @admin.display(description="lasted")
    def lasted(self, session: StreamSession) -> str:
        """How long the publish lasted (so far, while live), in human units."""
        end = session.ended_at or timezone.now()
        return units.duration((end - session.started_at).total_seconds())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions come from the origin's hooks only

    @admin.action(description="End session (origin lost without on_unpublish)")
    def end_sessions(self, request: HttpRequest, queryset: QuerySet[StreamSession]) -> None:
        ended = sum(
            services.end_session(session, reason=f"admin:{request.user.get_username()}")
            for session in queryset.filter(ended_at__isnull=True)
        )
        self.message_user(request, f"{ended} session(s) ended at {timezone.now():%H:%M:%S} UTC.")


@admin.register(StreamViewer)
class StreamViewerAdmin(admin.ModelAdmin[StreamViewer]):
    list_display = ["stream", "client_id", "viewer_ip", "started_at", "ended_at"]
    list_filter = [LiveFilter, "stream"]
    list_select_related = ["stream"]
    readonly_fields = [f.name for f in StreamViewer._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
