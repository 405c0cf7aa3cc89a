"""Keeping an accepted capture: S3 when the breaker lets it through, else the durable spool."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from camcloud import layout
from camcloud.errors import Refusal
from ingest.body import Body
from ingest.drainer import Drainer
from ingest.health import S3Health
from ingest.logs import event
from ingest.metrics import Metrics
from ingest.spool import Spool, SpoolFull, SpoolUnavailable
from ingest.store import Capture, CaptureStore

SPOOL_FULL_RETRY_AFTER = 60
STORAGE_DOWN_RETRY_AFTER = 30


@dataclass(frozen=True)
class Kept:
    """Where an accepted capture went: HTTP status, outcome (metrics, logs), JSON answer."""

    status: int
    outcome: str
    document: dict[str, Any]


def describe(capture: Capture, ref: layout.CaptureRef | None) -> dict[str, Any]:
    """The JSON answer's description of a kept capture."""
    # A retry lands on the key its first attempt reserved: report that capture time, not
    # this request's.
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


class Keeper:
    """Breaker -> store -> spool -> drainer: a capture is stored once or queued durably."""

    def __init__(self, store: CaptureStore, spool: Spool, drainer: Drainer, health: S3Health,
                 metrics: Metrics) -> None:
        self._store = store
        self._spool = spool
        self._drainer = drainer
        self._health = health
        self._metrics = metrics

    def keep(self, capture: Capture, body: Body) -> Kept:
        """Store ``capture`` in S3, or in the spool when S3 fails; Refusal if neither can."""
        if self._health.should_try():
            stored = self._try_store(capture)
            if stored is not None:
                return stored
        # S3 is failing: keep the capture on local disk; the drainer uploads it later.
        return self._queue(capture, body)

    def _try_store(self, capture: Capture) -> Kept | None:
        try:
            result = self._store.store(capture)
        except (BotoCoreError, ClientError) as exc:
            self._health.record(False)
            self._metrics.s3_error()
            event("s3_write_failed", logging.WARNING, device=capture.device,
                  capture_id=capture.capture_id, error=str(exc)[:300])
            return None
        self._health.record(True)
        document = describe(capture, result.ref)
        if result.created:
            return Kept(201, "stored", document)
        document["duplicate"] = True
        return Kept(200, "duplicate", document)

    def _queue(self, capture: Capture, body: Body) -> Kept:
        try:
            with self._store.lock_for(capture.device, capture.capture_id):
                queued = self._spool.put(capture, body)
        except SpoolFull:
            raise Refusal(
                503, "spool_full",
                "storage is unreachable and the local spool is full; retry later",
                {"Retry-After": str(SPOOL_FULL_RETRY_AFTER)},
            ) from None
        except SpoolUnavailable as exc:
            event("spool_write_failed", logging.ERROR, device=capture.device,
                  capture_id=capture.capture_id, error=str(exc)[:300])
            raise Refusal(
                503, "storage_unavailable", "storage is unreachable; retry later",
                {"Retry-After": str(STORAGE_DOWN_RETRY_AFTER)},
            ) from None
        self._drainer.kick()
        # The key is settled when the drainer stores it: an earlier attempt of this capture id
        # may already have reserved one with another time.
        document = describe(capture, None)
        document["queued"] = True
        if not queued:
            document["duplicate"] = True
        return Kept(202, "queued", document)
