"""``POST /upload``: the device protocol (SPEC "Device upload protocol (v1)")."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, current_app, jsonify, request

from camcloud import layout
from camcloud.devices import AuthError
from camcloud.validation import HeaderError, parse_captured_at, parse_telemetry
from ingest import body as bodies
from ingest.auth import RegistryUnavailable
from ingest.body import Body, BodyError
from ingest.logs import event
from ingest.spool import SpoolFull, SpoolUnavailable
from ingest.store import Capture

bp = Blueprint("upload", __name__)

SPOOL_FULL_RETRY_AFTER = 60
STORAGE_DOWN_RETRY_AFTER = 30


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
    return request.headers.get("X-Api-Key", "").strip() or None


def _declared_length() -> int | None:
    """Content-Length as sent; a malformed value is a 400, not a missing one."""
    raw = request.headers.get("Content-Length")
    if raw is None:
        return None
    text = raw.strip()
    if not text.isdigit() or len(text) > 18:
        raise UploadError(400, "bad_content_length", "Content-Length must be a whole number")
    return int(text)


def _read_body(body: Body, limit: int) -> None:
    """Read the request body (raw, chunked or multipart) into ``body``, within ``limit``."""
    declared = _declared_length()
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if declared is None and not chunked:
        raise UploadError(411, "length_required", "send Content-Length or chunked encoding")
    multipart = request.mimetype == "multipart/form-data"
    allowed = limit + (bodies.MULTIPART_OVERHEAD if multipart else 0)
    if declared is not None and declared > allowed:
        raise UploadError(413, "too_large", f"the image is larger than {limit} bytes")
    try:
        if multipart:
            bodies.read_multipart(
                request.stream, request.headers.get("Content-Type", ""), declared, body, limit
            )
        else:
            bodies.read_raw(request.stream, declared, body)
        bodies.validate(body)
    except BodyError as exc:
        raise UploadError(exc.status, exc.code, exc.message) from None


def parse_upload(body: Body, received_at: datetime, log_fields: dict[str, Any]) -> Capture:
    """Authenticate, rate-limit and validate the request into a Capture."""
    ctx = _ctx()
    settings = ctx["settings"]
    try:
        device = ctx["auth"].authenticate(_device_key(), request.headers.get("X-Device-Id"))
    except AuthError as exc:
        raise UploadError(exc.status, exc.code, str(exc)) from None
    except RegistryUnavailable:
        raise UploadError(
            503, "storage_unavailable", "cannot check the device key now; retry later",
            {"Retry-After": str(STORAGE_DOWN_RETRY_AFTER)},
        ) from None
    log_fields["device"] = device.device
    wait = ctx["limiter"].acquire(device.device)
    if wait:
        seconds = ctx["limiter"].retry_after(wait)
        raise UploadError(
            429, "rate_limited", f"too many uploads from {device.device}; retry in {seconds}s",
            {"Retry-After": str(seconds)},
        )
    if request.mimetype not in bodies.RAW_TYPES and request.mimetype != "multipart/form-data":
        raise UploadError(415, "unsupported_media_type", "send the JPEG as image/jpeg")
    capture_id = request.headers.get("X-Capture-Id")
    if capture_id is not None:
        capture_id = capture_id.strip()
        if not layout.CAPTURE_ID_RE.fullmatch(capture_id):
            raise UploadError(400, "bad_capture_id", "X-Capture-Id must be 1-64 of A-Z a-z 0-9 -")
        log_fields["capture_id"] = capture_id
    try:
        capture_time = parse_captured_at(request.headers.get("X-Captured-At"), received_at)
    except HeaderError as exc:
        raise UploadError(400, exc.code, str(exc)) from None
    _read_body(body, settings.max_upload_bytes)
    log_fields["capture_id"] = capture_id or body.sha256
    return Capture(
        device=device.device,
        capture_id=capture_id or body.sha256,
        sha256=body.sha256,
        size=body.size,
        time=capture_time,
        telemetry=parse_telemetry(request.headers),
        body=body.read_all() if body.in_memory else None,
        path=body.path,
    )


def _json(status: int, document: dict[str, Any], headers: dict[str, str]) -> Any:
    response = jsonify(document)
    response.status_code = status
    response.headers.update(headers)
    return response


def _describe(capture: Capture, ref: layout.CaptureRef | None) -> dict[str, Any]:
    # A retry without X-Captured-At lands on the key its first attempt reserved: report
    # that capture time, not this request's.
    captured_at = (
        datetime.fromtimestamp(ref.captured_at_ms / 1000, UTC) if ref else capture.time.captured_at
    )
    return {
        "id": capture.capture_id,
        "device": capture.device,
        "key": ref.raw_key if ref else None,
        "bytes": capture.size,
        "sha256": capture.sha256,
        "captured_at": captured_at.isoformat(timespec="milliseconds"),
        "clock": capture.time.clock,
    }


def accept(capture: Capture, body: Body) -> tuple[int, str, dict[str, Any]]:
    """Store the capture in S3, or in the spool when S3 fails: (status, outcome, json)."""
    ctx = _ctx()
    health = ctx["health"]
    if health.should_try():
        try:
            result = ctx["store"].store(capture)
        except (BotoCoreError, ClientError) as exc:
            health.record(False)
            ctx["metrics"].s3_error()
            event("s3_write_failed", logging.WARNING, device=capture.device,
                  capture_id=capture.capture_id, error=str(exc)[:300])
        else:
            health.record(True)
            document = _describe(capture, result.ref)
            if result.created:
                return 201, "stored", document
            document["duplicate"] = True
            return 200, "duplicate", document
    # S3 is failing: keep the capture on local disk; the drainer uploads it later.
    try:
        with ctx["store"].lock_for(capture.device, capture.capture_id):
            queued = ctx["spool"].put(capture, body)
    except SpoolFull:
        raise UploadError(
            503, "spool_full", "storage is unreachable and the local spool is full; retry later",
            {"Retry-After": str(SPOOL_FULL_RETRY_AFTER)},
        ) from None
    except SpoolUnavailable as exc:
        event("spool_write_failed", logging.ERROR, device=capture.device,
              capture_id=capture.capture_id, error=str(exc)[:300])
        raise UploadError(
            503, "storage_unavailable", "storage is unreachable; retry later",
            {"Retry-After": str(STORAGE_DOWN_RETRY_AFTER)},
        ) from None
    ctx["drainer"].kick()
    ref = None
    if capture.time.clock == "device":
        ref = layout.CaptureRef.new(capture.device, capture.time.captured_at_ms, capture.capture_id)
    document = _describe(capture, ref)
    document["queued"] = True
    if not queued:
        document["duplicate"] = True
    return 202, "queued", document


@bp.post("/upload")
def upload() -> Any:
    """Store one capture sent by a camera."""
    started = time.perf_counter()
    ctx = _ctx()
    received_at = datetime.now(UTC)
    body = Body(ctx["tmp_dir"], ctx["settings"].max_upload_bytes)
    fields: dict[str, Any] = {"device": None, "capture_id": None}
    try:
        capture = parse_upload(body, received_at, fields)
        status, outcome, document = accept(capture, body)
    except UploadError as exc:
        seconds = time.perf_counter() - started
        ctx["metrics"].reject(exc.code, seconds)
        event("upload", logging.INFO, **fields, bytes=body.size, outcome=exc.code,
              status=exc.status, latency_ms=round(seconds * 1000, 2))
        return _json(exc.status, {"error": exc.code, "message": exc.message}, exc.headers)
    finally:
        body.close()
    seconds = time.perf_counter() - started
    ctx["metrics"].upload(outcome, capture.size, seconds)
    event("upload", logging.INFO, **fields, bytes=capture.size, outcome=outcome, status=status,
          key=document.get("key"), latency_ms=round(seconds * 1000, 2))
    return _json(status, document, {})
