"""``POST /upload`` and ``GET /device/state``: the device protocol (v1, v1.1), over Flask."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Request, jsonify, request

from ingest import service
from ingest.current import services_of

bp = Blueprint("upload", __name__)

# Addresses of the local nginx: behind it, the client's address is its X-Real-IP header.
TRUSTED_PROXIES = frozenset({"127.0.0.1", "::1"})


def client_address(incoming: Request) -> str | None:
    """The camera's address: X-Real-IP when the request came through the local nginx."""
    forwarded = incoming.headers.get("X-Real-IP", "").strip()
    if incoming.remote_addr in TRUSTED_PROXIES and forwarded:
        return forwarded
    return incoming.remote_addr


def _answer(outcome: service.Outcome) -> Any:
    """The service's outcome as a Flask response: JSON body, status, headers."""
    response = jsonify(outcome.body)
    response.status_code = outcome.status
    response.headers.update(outcome.headers)
    return response


def _incoming() -> service.Request:
    """The Flask request as the service's plain request."""
    return service.Request(request.headers, request.stream, client_address(request))


@bp.post("/upload")
def upload() -> Any:
    """Store one capture sent by a camera."""
    return _answer(services_of().ingest.accept(_incoming()))


@bp.get("/device/state")
def device_state() -> Any:
    """A camera's check-in without an image: its desired state (protocol v1.1)."""
    return _answer(services_of().ingest.check_in(_incoming()))
