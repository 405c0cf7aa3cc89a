"""Storing a capture exactly once, whatever retries and races the devices produce."""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from camcloud import layout
from camcloud.records import object_metadata
from camcloud.reservations import reserve_raw_key
from camcloud.s3 import checksum_sha256, put_if_absent
from camcloud.validation import CaptureTime


@dataclass(frozen=True)
class Capture:
    """A validated upload, ready to store."""

    device: str
    capture_id: str
    sha256: str
    size: int
    time: CaptureTime
    telemetry: dict[str, int | str]
    body: bytes | None = None
    path: str | None = None

    def open_payload(self) -> Any:
        """The bytes, or an open file of them (the caller closes it)."""
        if self.body is not None:
            return self.body
        assert self.path is not None
        return open(self.path, "rb")  # noqa: SIM115 - closed by the caller


@dataclass(frozen=True)
class StoreResult:
    """Where a capture landed and whether this request created it."""

    ref: layout.CaptureRef
    created: bool


def _iso(capture_time: CaptureTime) -> tuple[str, str]:
    return (
        capture_time.captured_at.isoformat(timespec="milliseconds"),
        capture_time.received_at.isoformat(timespec="milliseconds"),
    )


class CaptureStore:
    """Writes originals under ``raw/`` with put-if-absent, so a retry never makes a second one."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        bucket: str,
        stripes: int = 64,
        fast_put: Callable[[], Any] | None = None,
    ) -> None:
        self._client = client_factory
        self._bucket = bucket
        self._fast_put = fast_put
        # Concurrent retries of one capture in this process go one at a time, so the second
        # sees the first's object; across processes S3's conditional writes settle it.
        self._locks = [threading.Lock() for _ in range(stripes)]

    def lock_for(self, device: str, capture_id: str) -> threading.Lock:
        """The lock that serialises work on ``(device, capture_id)`` in this process."""
        index = zlib.crc32(f"{device}/{capture_id}".encode()) % len(self._locks)
        return self._locks[index]

    def store(self, capture: Capture) -> StoreResult:
        """Store ``capture``; ``created`` is False when it was already there."""
        with self.lock_for(capture.device, capture.capture_id):
            return self._store(capture)

    def _store(self, capture: Capture) -> StoreResult:
        ref = self.resolve_ref(capture)
        captured_at, received_at = _iso(capture.time)
        metadata = object_metadata(
            capture_id=capture.capture_id,
            captured_at=captured_at,
            received_at=received_at,
            clock=capture.time.clock,
            sha256=capture.sha256,
            size=capture.size,
            telemetry=capture.telemetry,
        )
        payload = capture.open_payload()
        try:
            if self._fast_put is not None:
                created = self._fast_put().put_if_absent(
                    ref.raw_key, payload, capture.size, capture.sha256, metadata
                )
            else:
                # The sha256 computed while validating goes along: S3 checks the bytes against
                # it (end-to-end integrity) and boto3 need not checksum the body again.
                created = put_if_absent(
                    self._client(), self._bucket, ref.raw_key, payload,
                    content_type="image/jpeg", metadata=metadata,
                    ChecksumSHA256=checksum_sha256(capture.sha256),
                )
        finally:
            if hasattr(payload, "close"):
                payload.close()
        return StoreResult(ref=ref, created=created)

    def resolve_ref(self, capture: Capture) -> layout.CaptureRef:
        """The key this capture lands on, the same for every retry of it.

        The first request of ``(device, capture_id)`` reserves its key under ``ids/``
        (camcloud.reservations) and every retry reuses it, whichever clock dated each attempt:
        the key holds the capture time, and a retry may carry another time than the attempt
        that was stored (undated, then dated once the camera's clock was set; or a time counted
        back again after a re-sync), so the time alone cannot say it is a retry.
        """
        proposed = layout.CaptureRef.new(
            capture.device, capture.time.captured_at_ms, capture.capture_id
        )
        return reserve_raw_key(self._client(), self._bucket, proposed, self._reservation_put())

    def _reservation_put(self) -> Callable[[str, bytes], bool] | None:
        """The reservation's write over the fast path when there is one (no boto3 CPU cost)."""
        if self._fast_put is None:
            return None
        fast = self._fast_put()

        def put(key: str, body: bytes) -> bool:
            return bool(fast.put_if_absent(key, body, len(body), hashlib.sha256(body).hexdigest(),
                                           {}, content_type="application/json"))

        return put
