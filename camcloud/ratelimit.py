"""Per-device token buckets: a steady rate with a burst allowance."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from camcloud.bounded import BoundedDict


class RateLimiter:
    """``rate_per_minute`` uploads per device, up to ``burst`` at once."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_devices: int = 100_000,
    ) -> None:
        self._rate = rate_per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        # Bounded memory whatever device ids are thrown at us: the least recent go when full.
        self._buckets: BoundedDict[str, tuple[float, float]] = BoundedDict(max_devices)
        self._lock = threading.Lock()

    def acquire(self, device: str) -> float:
        """Take one token for ``device``: 0.0 if allowed, else seconds until one is free."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(device) or (self._burst, now)
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens >= 1.0:
                self._buckets.put(device, (tokens - 1.0, now))
                return 0.0
            self._buckets.put(device, (tokens, now))
            return (1.0 - tokens) / self._rate

    @staticmethod
    def retry_after(wait: float) -> int:
        """``wait`` as whole seconds for a ``Retry-After`` header (at least 1)."""
        return max(1, math.ceil(wait))
