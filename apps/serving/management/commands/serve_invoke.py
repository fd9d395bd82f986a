"""`manage.py serve_invoke`: the process that answers the API's synchronous invokes (sentiment,
DCGAN, fast style), in dynamic batches (apps/serving/batcher.py). runstudio starts one; run more for
more throughput (each takes whole batches from the shared Redis lists)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.serving.batcher import Batcher
from apps.serving.invokers import INVOKERS, preload


class Command(BaseCommand):
    help = "Answer the API's synchronous invokes (sentiment, DCGAN, fast style) in dynamic batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--max-batch", type=int, default=64,
                            help="most requests per forward pass (1: one request, one forward)")
        parser.add_argument("--window-ms", type=float, default=5.0,
                            help="how long to gather requests after the first, in milliseconds")

    def handle(self, *args: Any, max_batch: int, window_ms: float, **options: Any) -> None:
        tools = ", ".join(INVOKERS)
        preload()
        self.stdout.write(f"serving invokes ({tools}): batches of up to {max_batch}, {window_ms:g} ms window")
        try:
            Batcher(max_batch=max_batch, window_ms=window_ms).serve()
        except KeyboardInterrupt:
            pass
