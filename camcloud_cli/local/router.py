"""One port for two apps, routed by path as the reverse proxy does on EC2."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# Paths the reverse proxy sends to the ingest on EC2; the local stack routes the same way.
INGEST_PATHS = ("/upload", "/device/state", "/healthz", "/readyz", "/metrics")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def split_by_path(ingest_app: WsgiApp, gallery_app: WsgiApp) -> WsgiApp:
    """One WSGI app: device paths to the ingest, everything else to the gallery."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in INGEST_PATHS:
            return ingest_app(environ, start_response)
        return gallery_app(environ, start_response)

    return app
