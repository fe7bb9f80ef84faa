"""Validation's events for the apps above it.

rewards reacts to a failed check (it claws back the node's unvested credits, after the check is
committed) and to resolved fraud flags (it audits them, inside the change's transaction) without
validation depending on it. Receivers run in the caller's process: a few queries, no network I/O.
"""

from django.dispatch import Signal

check_failed = Signal()  # sender=SpotCheck, check=<SpotCheck>
# Sent inside the resolving transaction (rewards audits it there): sender=FraudFlag,
# flags=<list of FraudFlag>, actor=<User | None>, note=<str>.
flags_resolved = Signal()
