"""The ingest service, without Flask: one upload request in, one outcome out.

``Ingest.accept`` runs the device protocol (docs/protocol.md, ``POST /upload``): the gate
(key, rate limits), the headers, the body, then the keeper (S3 or the spool). Every refusal is
a ``camcloud.errors.Refusal``; the Flask blueprint only builds the ``Request`` and shapes the
``Outcome``. ``Operations`` answers ``/readyz`` and ``/metrics``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, cast

from werkzeug.datastructures import Headers

from camcloud import layout
from camcloud.device_state import load_state
from camcloud.devices import DeviceRecord
from camcloud.errors import Refusal
from camcloud.status import StatusRecorder
from camcloud.validation import HeaderError, parse_captured_at, parse_telemetry
from ingest import body as bodies
from ingest.body import Body
from ingest.desired import DesiredState
from ingest.drainer import Drainer
from ingest.gate import Gate
from ingest.health import S3Health
from ingest.keeper import Keeper, Kept
from ingest.logs import event
from ingest.metrics import Metrics
from ingest.spool import Spool
from ingest.store import Capture


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Clock:
    """Wall time for capture times; monotonic time for caches, breakers, limits and latency."""

    now: Callable[[], datetime] = _utc_now
    monotonic: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class Request:
    """One upload as the adapter received it: headers, the body stream, the client address."""

    headers: Headers
    stream: IO[bytes]
    remote_addr: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The answer: HTTP status, JSON document, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def device_key(headers: Headers) -> str | None:
    """The key from ``Authorization: Bearer`` or ``X-Api-Key``."""
    scheme, _, credential = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return headers.get("X-Api-Key", "").strip() or None


def capture_id_of(headers: Headers) -> str | None:
    """``X-Capture-Id`` checked against the protocol's pattern; None when absent."""
    capture_id = headers.get("X-Capture-Id")
    if capture_id is None:
        return None
    capture_id = capture_id.strip()
    if not layout.CAPTURE_ID_RE.fullmatch(capture_id):
        raise Refusal(400, "bad_capture_id", "X-Capture-Id must be 1-64 of A-Z a-z 0-9 -")
    return capture_id


# A check-in reads the device record fresh: a config set a moment ago reaches the camera at
# its next check-in, within one checkin_s (docs/protocol.md, ``GET /device/state``); uploads
# use the registry's cache.
CHECKIN_RECORD_AGE = 0.0


class Ingest:
    """Accepts uploads and check-ins: authenticate, rate-limit, validate, store or spool."""

    def __init__(self, gate: Gate, keeper: Keeper, metrics: Metrics, *, max_upload_bytes: int,
                 tmp_dir: str, clock: Clock | None = None,
                 desired: DesiredState | None = None,
                 status: StatusRecorder | None = None) -> None:
        self._gate = gate
        self._keeper = keeper
        self._metrics = metrics
        self._limit = max_upload_bytes
        self.tmp_dir = tmp_dir
        self._clock = clock or Clock()
        self._desired = desired
        self._status = status

    def accept(self, request: Request) -> Outcome:
        """Answer one upload (never raises for anything the request contains)."""
        started = self._clock.monotonic()
        body = Body(self.tmp_dir, self._limit)
        fields: dict[str, Any] = {"device": None, "capture_id": None}
        try:
            capture, record = self._capture(request, body, fields)
            kept = self._keeper.keep(capture, body)
        except Refusal as exc:
            self._log(exc.code, exc.status, body.size, started, fields, rejected=True)
            return Outcome(exc.status, exc.body(), exc.headers)
        finally:
            body.close()
        self._log(kept.outcome, kept.status, capture.size, started,
                  {**fields, "key": kept.document.get("key")})
        self._note_upload(capture, record)
        document = dict(kept.document)
        if self._desired is not None:
            document["state"] = self._desired.answer(record, request.headers)
        return Outcome(kept.status, document)

    def check_in(self, request: Request) -> Outcome:
        """Answer ``GET /device/state``: the desired state, after recording the camera's report."""
        headers = request.headers
        try:
            record = self._gate.admit(device_key(headers), headers.get("X-Device-Id"),
                                      request.remote_addr, max_age=CHECKIN_RECORD_AGE)
        except Refusal as exc:
            event("checkin", logging.INFO, outcome=exc.code, status=exc.status)
            return Outcome(exc.status, exc.body(), exc.headers)
        if self._status is not None:
            self._status.note_checkin(record.device, at=self._clock.now().timestamp())
        state = self._desired.answer(record, headers) if self._desired is not None else None
        event("checkin", logging.INFO, device=record.device, outcome="ok", status=200)
        return Outcome(200, {"state": state})

    def _note_upload(self, capture: Capture, record: DeviceRecord) -> None:
        """Tell the status summary (the alerts' last-seen data) about an accepted upload."""
        if self._status is None:
            return
        try:
            config = load_state(record.to_json()).config
            self._status.note_upload(
                capture.device, received_at=capture.time.received_at.timestamp(),
                captured_at=capture.time.captured_at.timestamp(),
                telemetry=capture.telemetry,
                # Version 0: nothing set on the server, the camera runs its compiled interval.
                interval_s=config.interval_s if config.version > 0 else None,
                active_hours=config.active_hours if config.version > 0 else None,
            )
        except Exception:  # noqa: BLE001 - the summary must never cost an upload
            event("status_note_failed", logging.ERROR, device=capture.device, exc_info=True)

    def _log(self, outcome: str, status: int, size: int, started: float,
             fields: dict[str, Any], *, rejected: bool = False) -> None:
        seconds = max(0.0, self._clock.monotonic() - started)
        if rejected:
            self._metrics.reject(outcome, seconds)
        else:
            self._metrics.upload(outcome, size, seconds)
        event("upload", logging.INFO, **fields, bytes=size, outcome=outcome, status=status,
              latency_ms=round(seconds * 1000, 2))

    def _capture(self, request: Request, body: Body,
                 fields: dict[str, Any]) -> tuple[Capture, DeviceRecord]:
        """Authenticate, rate-limit and validate the request into a Capture (and its device)."""
        headers = request.headers
        received_at = self._clock.now()
        device = self._gate.admit(device_key(headers), headers.get("X-Device-Id"),
                                  request.remote_addr)
        fields["device"] = device.device
        content_type = bodies.mimetype(headers.get("Content-Type", ""))
        if content_type not in bodies.RAW_TYPES and content_type != "multipart/form-data":
            raise Refusal(415, "unsupported_media_type", "send the JPEG as image/jpeg")
        capture_id = fields["capture_id"] = capture_id_of(headers)
        try:
            capture_time = parse_captured_at(headers.get("X-Captured-At"), received_at)
        except HeaderError as exc:
            raise Refusal(400, exc.code, str(exc)) from None
        bodies.read_body(headers, request.stream, body, self._limit)
        fields["capture_id"] = capture_id = capture_id or body.sha256
        return Capture(
            device=device.device, capture_id=capture_id, sha256=body.sha256, size=body.size,
            time=capture_time,
            telemetry=parse_telemetry(cast(Mapping[str, str], headers)),
            body=body.read_all() if body.in_memory else None, path=body.path,
        ), device


class Operations:
    """What ``/readyz`` and ``/metrics`` report: S3 reachability, the spool, the counters."""

    def __init__(self, health: S3Health, spool: Spool, drainer: Drainer,
                 metrics: Metrics) -> None:
        self._health = health
        self._spool = spool
        self._drainer = drainer
        self._metrics = metrics

    def readiness(self) -> Outcome:
        """Ready when S3 answers (probe cached a few seconds); the spool either way."""
        reachable, detail = self._health.probe()
        spool = self._spool.state()
        document = {
            "status": "ready" if reachable else "degraded",
            "s3": detail,
            "spool": {
                "available": spool.available,
                "entries": spool.entries,
                "bytes": spool.bytes,
                "max_bytes": spool.max_bytes,
                "draining_here": self._drainer.holds_lock,
            },
        }
        return Outcome(200 if reachable else 503, document)

    def metrics_text(self) -> str:
        """Prometheus text: uploads, rejects by reason, bytes, latency, spool depth."""
        return self._metrics.render(self._gauges)

    def _gauges(self) -> dict[str, float]:
        spool = self._spool.state()
        return {
            "spool_entries": spool.entries,
            "spool_bytes": spool.bytes,
            "spool_max_bytes": spool.max_bytes,
            "s3_breaker_open": 1.0 if self._health.open else 0.0,
        }


__all__ = ["Clock", "Ingest", "Kept", "Operations", "Outcome", "Request"]
