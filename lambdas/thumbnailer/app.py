"""Lambda entry point: parse the S3 event batch, run the thumbnailer, report the result.

The same ``make_handler`` serves AWS Lambda (settings from the environment, created on the
first invocation and reused by the container) and the local stack's worker (settings and
client passed in).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from camcloud.devices import DeviceRegistry
from camcloud.s3 import LazyClient
from camcloud.settings import Settings
from camcloud.thumbnailer import Thumbnailer

log = logging.getLogger("camcloud.thumbnailer")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(settings: Settings | None = None, client: Any = None) -> Handler:
    """Build a handler; without arguments it reads ``CAMCLOUD_*`` on its first call."""
    state: dict[str, Thumbnailer] = {}

    def thumbnailer() -> Thumbnailer:
        if "thumbnailer" not in state:
            resolved = settings or Settings.from_env()
            s3 = LazyClient(resolved, client)
            registry = DeviceRegistry(
                s3.get, resolved.bucket, cache_seconds=resolved.key_cache_seconds
            )
            state["thumbnailer"] = Thumbnailer(s3.get, registry)
        return state["thumbnailer"]

    def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Process one S3 event batch."""
        result = thumbnailer().process_event(event)
        summary = {
            "processed": len(result.processed),
            "errors": result.errors,
            "removed": len(result.removed),
            "skipped": len(result.skipped),
        }
        log.info("batch done %s", summary)
        return summary

    return handler


handler = make_handler()
