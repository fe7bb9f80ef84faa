"""The one place that changes streams, sessions and viewers.

The origin hooks, the admin, the streamer pages and management commands call these functions
and translate ``StreamError`` into their own kind of answer. Every function is idempotent towards
the origin's hooks: a duplicate, late or out-of-order hook leaves the state as it was. Streams and
live sessions are in ``sessions``, who watches in ``viewers``, pruning in ``retention``.
"""

from streams.services.rates import clean_rate, set_reward_rate
from streams.services.retention import delete_in_chunks, origin_minute_hours, prune_streams
from streams.services.sessions import (
    RESUME_WITHIN,
    PublishRefused,
    PublishRequest,
    StreamError,
    admit_publish,
    alive_minutes,
    close_silent_sessions,
    create_stream,
    end_publish,
    end_session,
    record_origin_alive,
    record_signal,
    rotate_key,
    set_active,
)
from streams.services.viewers import (
    WATCHER_PRESENT,
    prune_watchers,
    record_play,
    record_stop,
    watcher_reported,
    watching_now,
)

__all__ = [
    "RESUME_WITHIN",
    "WATCHER_PRESENT",
    "PublishRefused",
    "PublishRequest",
    "StreamError",
    "admit_publish",
    "alive_minutes",
    "clean_rate",
    "close_silent_sessions",
    "create_stream",
    "delete_in_chunks",
    "end_publish",
    "end_session",
    "origin_minute_hours",
    "prune_streams",
    "prune_watchers",
    "record_origin_alive",
    "record_play",
    "record_signal",
    "record_stop",
    "rotate_key",
    "set_active",
    "set_reward_rate",
    "watcher_reported",
    "watching_now",
]
