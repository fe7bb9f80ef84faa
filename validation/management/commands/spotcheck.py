from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from nodes.models import Node
from validation import runner, services


class Command(BaseCommand):
    help = "Spot-check one node now (--node ID), or the online relaying nodes that are due (--count at most)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--node", type=int, default=None, help="Node id.")
        parser.add_argument("--count", type=int, default=None, help="Check at most this many due nodes.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["node"] is None:
            outcomes = runner.run(seconds=50.0, limit=options["count"])
            self.stdout.write(f"spot-checks: {dict(outcomes)}" if outcomes else "No online node is due a check.")
            return
        node = Node.objects.select_related("assigned_stream").filter(pk=options["node"]).first()
        if node is None:
            raise CommandError(f"No node {options['node']}.")
        try:
            check = services.spot_check(node, trigger="command")
        except services.CheckSkipped as exc:
            self.stdout.write(f"node {node.pk} ({node.name}): skipped, {exc}")
            return
        overlap = "-" if check.overlap is None else f"{check.overlap:.0%}"
        slug = check.stream.slug if check.stream else "-"
        self.stdout.write(
            f"node {node.pk} ({node.name}) stream {slug}: {check.outcome}, overlap {overlap}, {check.latency_ms} ms"
        )
