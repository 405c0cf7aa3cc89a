"""What the ingest knows about S3's health: a short circuit breaker and a cached probe."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from camcloud.s3 import error_code


class S3Health:
    """Remembers recent S3 failures so uploads go straight to the spool during an outage.

    After a failed write the breaker stays open for ``open_seconds``: uploads are spooled at
    once instead of each waiting for S3's timeouts (a camera gives up after 5 s). Then the
    next upload tries S3 again; a success, on the upload path or in the drainer, closes it.
    """

    def __init__(
        self,
        client_factory: Callable[[], Any],
        bucket: str,
        *,
        open_seconds: float = 2.0,
        probe_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client_factory
        self._bucket = bucket
        self.open_seconds = open_seconds
        self.probe_seconds = probe_seconds
        self._clock = clock
        self._failed_at: float | None = None
        self._probing = False
        self._probe: tuple[float, bool, str] | None = None
        self._lock = threading.Lock()

    def record(self, ok: bool) -> None:
        """Note the outcome of an S3 call."""
        with self._lock:
            self._failed_at = None if ok else self._clock()
            self._probing = False

    def should_try(self) -> bool:
        """Whether an upload should try S3 now.

        Closed breaker: yes. Open: no. Half-open (``open_seconds`` after the last failure):
        yes for one upload at a time, so that a stalled S3 holds up one request, not all.
        """
        failed_at = self._failed_at
        if failed_at is None:
            return True
        if self._clock() - failed_at < self.open_seconds:
            return False
        with self._lock:
            if self._probing:
                return False
            self._probing = True
            return True

    def retry_due(self) -> bool:
        """Whether the breaker is open and has waited ``open_seconds`` since the last failure
        (a check-in, which writes nothing, may then read S3 again without taking the probe)."""
        failed_at = self._failed_at
        return failed_at is not None and self._clock() - failed_at >= self.open_seconds

    @property
    def open(self) -> bool:
        """Whether S3 failed recently (uploads go to the spool)."""
        return self._failed_at is not None

    def probe(self) -> tuple[bool, str]:
        """(reachable, detail): a HeadBucket, cached for ``probe_seconds``."""
        now = self._clock()
        with self._lock:
            cached = self._probe
        if cached is not None and now - cached[0] < self.probe_seconds:
            return cached[1], cached[2]
        try:
            self._client().head_bucket(Bucket=self._bucket)
            result = (True, "ok")
        except ClientError as exc:
            result = (False, f"S3 answered {error_code(exc) or 'error'}")
        except BotoCoreError as exc:
            result = (False, type(exc).__name__)
        with self._lock:
            self._probe = (now, *result)
        return result
