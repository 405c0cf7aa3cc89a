"""Who may upload: the device key, the per-device rate and the per-address failure budget."""

from __future__ import annotations

import time
from collections.abc import Callable

from camcloud.bounded import BoundedDict
from camcloud.devices import AuthError, DeviceRecord
from camcloud.errors import Refusal
from camcloud.ratelimit import RateLimiter
from ingest.auth import Authenticator, RegistryUnavailable

STORAGE_DOWN_RETRY_AFTER = 30
MAX_ADDRESSES = 50_000


class FailureLimiter:
    """Failed authentications per client address; past the budget, 429 before any S3 read.

    Each never-seen device id costs the registry an S3 GET: an address that keeps sending
    bad keys is told to wait, so guessing ids costs the guesser time, not the service S3
    requests and memory.
    """

    def __init__(self, per_minute: float, burst: int, *,
                 clock: Callable[[], float] = time.monotonic,
                 capacity: int = MAX_ADDRESSES) -> None:
        self._budget = RateLimiter(per_minute, burst, clock=clock, max_devices=capacity)
        self._blocked: BoundedDict[str, float] = BoundedDict(capacity)
        self._clock = clock

    def check(self, address: str | None) -> None:
        """Refuse (429) an address that used up its failures until it has waited."""
        if address is None:
            return
        until = self._blocked.get(address)
        if until is None:
            return
        wait = until - self._clock()
        if wait <= 0:
            self._blocked.pop(address)
            return
        seconds = RateLimiter.retry_after(wait)
        raise Refusal(429, "rate_limited",
                      f"too many failed authentications; retry in {seconds}s",
                      {"Retry-After": str(seconds)})

    def failed(self, address: str | None) -> None:
        """Count a failed authentication from ``address``; 429 if that was one too many."""
        if address is None:
            return
        wait = self._budget.acquire(address)
        if wait:
            self._blocked.put(address, self._clock() + wait)
            self.check(address)


class Gate:
    """Authenticates an upload and applies the rate limits: the device, or a Refusal."""

    def __init__(self, auth: Authenticator, limiter: RateLimiter,
                 failures: FailureLimiter) -> None:
        self._auth = auth
        self._limiter = limiter
        self._failures = failures

    def admit(self, key: str | None, claimed_device: str | None,
              address: str | None, *, max_age: float | None = None) -> DeviceRecord:
        """The device allowed to upload now; Refusal (401/403/429/503) otherwise.

        An address past its failure budget gets 429 before its key is looked at: no S3 read.
        ``max_age`` bounds the age of the cached record (check-ins read it fresh).
        """
        self._failures.check(address)
        try:
            device = self._auth.authenticate(key, claimed_device, max_age=max_age)
        except AuthError as exc:
            self._failures.failed(address)
            raise Refusal(exc.status, exc.code, str(exc)) from None
        except RegistryUnavailable:
            raise Refusal(
                503, "storage_unavailable", "cannot check the device key now; retry later",
                {"Retry-After": str(STORAGE_DOWN_RETRY_AFTER)},
            ) from None
        wait = self._limiter.acquire(device.device)
        if wait:
            seconds = self._limiter.retry_after(wait)
            raise Refusal(
                429, "rate_limited",
                f"too many uploads from {device.device}; retry in {seconds}s",
                {"Retry-After": str(seconds)},
            )
        return device
