"""Structured logs: one JSON object per line, with the fields a person searches by."""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import os
import queue
import sys
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "camcloud.ingest"
log = logging.getLogger(LOGGER_NAME)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, event, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", None) or record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            document.update(fields)
        elif getattr(record, "event", None):
            document["message"] = record.getMessage()
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, separators=(",", ":"))


def configure(level: str) -> None:
    """Send the ingest's logs to stderr as JSON lines (once per process).

    A request thread only formats its line and queues it; one background thread writes, so a
    slow journald never holds up an upload and the threads never queue for the stream's lock.
    """
    log.setLevel(level)
    if any(isinstance(h, logging.handlers.QueueHandler) for h in log.handlers):
        return
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = logging.handlers.QueueHandler(lines)
    handler.setFormatter(JsonFormatter())
    writer = logging.StreamHandler(sys.stderr)
    writer.setFormatter(logging.Formatter("%(message)s"))
    listener = logging.handlers.QueueListener(lines, writer)
    listener.start()
    atexit.register(listener.stop)  # write what is queued before the process ends
    # A forked child (gunicorn with preload_app) gets no threads: give it its own writer.
    os.register_at_fork(after_in_child=listener.start)
    log.addHandler(handler)


def event(name: str, level: int = logging.INFO, exc_info: bool = False, **fields: Any) -> None:
    """Log the event ``name`` with ``fields``."""
    if log.isEnabledFor(level):
        log.log(level, name, extra={"event": name, "fields": fields}, exc_info=exc_info)
