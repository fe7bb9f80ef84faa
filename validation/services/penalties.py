"""Graded penalties: the first failed check that counts warns the node's owner, the configured
number in a row (``SPOT_CHECK_FAILURES_TO_SUSPEND``) suspends the node; both by email too.

Spot-checks (``spotchecks._record``) call ``after_failure`` inside their transaction; the emails
go out after it commits (``accounts.notifications``). ``plain_words`` says what a failed check
found in words for the owner (never the staff-only detail of what the node answered).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from accounts import notifications
from nodes.models import Node
from validation.models import Outcome, SpotCheck

APPEAL_TRIGGER = "appeal"

WHAT_FAILED = {
    Outcome.UNREACHABLE: "the checker could not load the live stream from your node",
    Outcome.TIMEOUT: "your node took too long to serve the live stream",
    Outcome.STALE: "your node served old video, not the live stream",
    Outcome.MISMATCH: "your node served video that is not the stream it relays",
    Outcome.REDIRECT: "your node sent the checker elsewhere instead of serving the video itself",
    Outcome.BAD_MEDIA: "your node served something that is not valid video",
    Outcome.CLOAKED: "viewers got other bytes from your node than the checker did",
    Outcome.NOT_PUBLIC: "your node's public URL leads to a private or local address, which viewers cannot reach",
}


def plain_words(check: SpotCheck) -> str:
    """What the check found, for the owner: the outcome in words, and the checker's reason."""
    words = WHAT_FAILED.get(Outcome(check.outcome), check.get_outcome_display()) if not check.passed else "passed"
    reason = str(check.evidence.get("reason", "")).strip() if isinstance(check.evidence, dict) else ""
    return f"{words} (the checker saw: {reason})" if reason else words


def failures_left(consecutive_failures: int) -> int:
    """Failures in a row still allowed before the node is suspended (0: suspended now)."""
    return max(0, settings.SPOT_CHECK_FAILURES_TO_SUSPEND - consecutive_failures)


def _me_url() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("me")


def after_failure(node: Node, check: SpotCheck, consecutive_failures: int, *, suspended_now: bool) -> None:
    """Tell the owner of a node whose counting check failed: a warning on the first failure of a
    streak, an email when the streak suspends it (nothing in between: /me shows the count)."""
    if check.trigger == APPEAL_TRIGGER:
        return  # an appeal's re-check: the appeal's decision is the one email (validation.services.appeals)
    owner = node.owner
    if suspended_now:
        notifications.notify(
            owner,
            notifications.NODE_PENALTIES,
            f"Your node {node.name} was suspended",
            f"Your node {node.name} failed {consecutive_failures} spot-checks in a row and was suspended: "
            f"it relays nothing and earns nothing until it is reinstated.\n\n"
            f"The last check ({check.checked_at:%Y-%m-%d %H:%M} UTC): {plain_words(check)}.\n\n"
            f"Once you fixed it, appeal from your nodes page: a new check runs at once, and if it passes "
            f"your node is reinstated.\n{_me_url()}",
        )
    elif consecutive_failures == 1:
        left = failures_left(consecutive_failures)
        notifications.notify(
            owner,
            notifications.NODE_PENALTIES,
            f"Your node {node.name} failed a spot-check",
            f"A spot-check of your node {node.name} failed ({check.checked_at:%Y-%m-%d %H:%M} UTC): "
            f"{plain_words(check)}.\n\n"
            f"The minutes since its previous check earn nothing. {left} more failure{'s' if left != 1 else ''} "
            f"in a row suspend{'s' if left == 1 else ''} it.\n{_me_url()}",
        )
