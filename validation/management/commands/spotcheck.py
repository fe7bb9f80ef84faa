from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from nodes.models import Node
from validation import services


class Command(BaseCommand):
    help = "Spot-check one node (--node ID) or a weighted sample of online relaying nodes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--node", type=int, default=None, help="Node id.")
        parser.add_argument("--count", type=int, default=None, help="How many nodes to sample.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["node"] is not None:
            node = Node.objects.select_related("assigned_stream").filter(pk=options["node"]).first()
            if node is None:
                raise CommandError(f"No node {options['node']}.")
            nodes = [node]
        else:
            nodes = services.pick_nodes(options["count"] or 20)
            if not nodes:
                self.stdout.write("No online node relays a live stream.")
        for node in nodes:
            try:
                check = services.spot_check(node, trigger="command")
            except services.CheckSkipped as exc:
                self.stdout.write(f"node {node.pk} ({node.name}): skipped, {exc}")
                continue
            overlap = "-" if check.overlap is None else f"{check.overlap:.0%}"
            slug = check.stream.slug if check.stream else "-"
            self.stdout.write(
                f"node {node.pk} ({node.name}) stream {slug}: {check.outcome}, overlap {overlap}, {check.latency_ms} ms"
            )
