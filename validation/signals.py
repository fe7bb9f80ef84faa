"""Validation's events for the apps above it, sent after the change is committed.

rewards reacts to a failed check (it claws back the node's unvested credits) without validation
depending on it. Receivers run in the spot-checker's worker: a few queries, no network I/O.
"""

from django.dispatch import Signal

check_failed = Signal()  # sender=SpotCheck, check=<SpotCheck>
