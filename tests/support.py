"""Helpers every test module may use (no fixtures here: those live in conftest.py)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# What the loopback JSON webhook was sent, in order (cleared by ``json_webhook``).
webhook_messages: list[dict[str, Any]] = []


class _JsonHook(http.server.BaseHTTPRequestHandler):
    """A JSON webhook that records what it is sent."""

    def do_POST(self) -> None:  # noqa: N802 - the base class's name
        """Keep the JSON body, answer 200."""
        length = int(self.headers.get("Content-Length", 0))
        webhook_messages.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Say nothing."""


@contextmanager
def json_webhook() -> Iterator[str]:
    """A loopback JSON webhook while the block runs: its Apprise URL."""
    webhook_messages.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JsonHook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/hooks/secret-path"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
