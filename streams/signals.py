"""Stream lifecycle signals, sent after the change is committed.

Other apps react without streams depending on them (nodes assigns relays when a stream goes
live and withdraws them when it ends). Receivers run inside the origin's hook request, so they
must stay quick: a few queries, no network I/O.
"""

from django.dispatch import Signal

stream_went_live = Signal()  # sender=Stream, stream=<Stream>, session=<StreamSession>
stream_went_offline = Signal()  # sender=Stream, stream=<Stream>, session=<StreamSession>
# Sent inside the change's transaction (not after commit), so a receiver's audit entry commits or
# rolls back with the change itself: sender=Stream, stream=<Stream>, old=<Decimal>, new=<Decimal>,
# actor=<User or None>.
reward_rate_changed = Signal()
