"""``POST /upload``: the device protocol (SPEC "Device upload protocol (v1)")."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import ClientDisconnected

from camcloud import layout
from camcloud.devices import AuthError
from camcloud.validation import (
    HeaderError,
    JpegError,
    jpeg_length,
    parse_captured_at,
    parse_telemetry,
)
from ingest.store import Capture

bp = Blueprint("upload", __name__)
_READ_CHUNK = 64 * 1024


class UploadError(Exception):
    """A refused upload: HTTP status, protocol error code, message, extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _ctx() -> dict[str, Any]:
    return current_app.extensions["camcloud"]  # type: ignore[no-any-return]


def _device_key() -> str | None:
    authorization = request.headers.get("Authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return request.headers.get("X-Api-Key") or None


def _read_body(limit: int) -> bytes:
    """Read the raw body, never holding more than ``limit`` + one chunk."""
    declared = request.content_length
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if declared is None and not chunked:
        raise UploadError(411, "length_required", "send Content-Length or chunked encoding")
    if declared is not None and declared > limit:
        raise UploadError(413, "too_large", f"the image is larger than {limit} bytes")
    body = bytearray()
    stream = request.stream
    try:
        while True:
            chunk = stream.read(_READ_CHUNK)
            if not chunk:
                break
            body += chunk
            if len(body) > limit:
                raise UploadError(413, "too_large", f"the image is larger than {limit} bytes")
    except ClientDisconnected:
        raise UploadError(
            400, "incomplete", "the body ended before Content-Length bytes arrived"
        ) from None
    if declared is not None and len(body) < declared:
        raise UploadError(400, "incomplete", "the body ended before Content-Length bytes arrived")
    return bytes(body)


def parse_upload() -> Capture:
    """Authenticate, rate-limit and validate the request into a Capture."""
    ctx = _ctx()
    settings = ctx["settings"]
    try:
        device = ctx["registry"].authenticate(_device_key(), request.headers.get("X-Device-Id"))
    except AuthError as exc:
        raise UploadError(exc.status, exc.code, str(exc)) from None
    wait = ctx["limiter"].acquire(device.device)
    if wait:
        seconds = ctx["limiter"].retry_after(wait)
        raise UploadError(
            429, "rate_limited", f"too many uploads from {device.device}; retry in {seconds}s",
            {"Retry-After": str(seconds)},
        )
    content_type = request.mimetype
    if content_type not in ("image/jpeg", "image/jpg", "application/octet-stream"):
        raise UploadError(415, "unsupported_media_type", "send the JPEG as image/jpeg")
    capture_id = request.headers.get("X-Capture-Id")
    if capture_id is not None and not layout.CAPTURE_ID_RE.fullmatch(capture_id):
        raise UploadError(400, "bad_capture_id", "X-Capture-Id must be 1-64 of A-Z a-z 0-9 -")
    try:
        capture_time = parse_captured_at(
            request.headers.get("X-Captured-At"), datetime.now(UTC)
        )
    except HeaderError as exc:
        raise UploadError(400, exc.code, str(exc)) from None
    body = _read_body(settings.max_upload_bytes)
    try:
        # SPI FIFOs pad the frame: bytes after the end-of-image marker are dropped.
        body = body[: jpeg_length(body)]
    except JpegError as exc:
        raise UploadError(400, exc.code, str(exc)) from None
    sha256 = hashlib.sha256(body).hexdigest()
    return Capture(
        device=device.device,
        capture_id=capture_id or sha256,
        body=body,
        sha256=sha256,
        time=capture_time,
        telemetry=parse_telemetry(request.headers),
    )


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    response = jsonify(error=code, message=message)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.post("/upload")
def upload() -> Any:
    """Store one capture sent by a camera."""
    try:
        capture = parse_upload()
    except UploadError as exc:
        return _error(exc.status, exc.code, exc.message, exc.headers)
    try:
        result = _ctx()["store"].store(capture)
    except (BotoCoreError, ClientError):
        current_app.logger.exception("S3 write failed for %s", capture.device)
        return _error(503, "storage_unavailable", "storage is unreachable; retry later",
                      {"Retry-After": "30"})
    body = {
        "id": capture.capture_id,
        "device": capture.device,
        "key": result.ref.raw_key,
        "bytes": len(capture.body),
        "sha256": capture.sha256,
        "captured_at": capture.time.captured_at.isoformat(timespec="milliseconds"),
        "clock": capture.time.clock,
    }
    if not result.created:
        body["duplicate"] = True
        return jsonify(body), 200
    return jsonify(body), 201


@bp.get("/healthz")
def healthz() -> Any:
    """The process is up."""
    return jsonify(status="ok")
