"""Device authentication that keeps working while S3 is unreachable.

The registry caches records for ``key_cache_seconds`` (so a revocation takes effect within
that). When S3 fails, a camera whose record was read before is still recognised from the
last record seen, so its uploads reach the spool instead of being refused. Those records are
also kept on local disk (next to the spool: key hashes only, as in S3), so every gunicorn
worker, and the service after a restart, knows them; a camera never seen gets a 503 with
``Retry-After``.
"""

from __future__ import annotations

import json
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from camcloud.bounded import BoundedDict
from camcloud.devices import AuthError, DeviceRecord, DeviceRegistry, check_key, device_of_key
from camcloud.files import atomic_write
from ingest.health import S3Health

MAX_REMEMBERED = 100_000


class RegistryUnavailable(Exception):
    """S3 could not be asked about a device this process has never seen."""


class Authenticator:
    """``DeviceRegistry.authenticate`` with a last-known-good fallback during S3 outages."""

    def __init__(self, registry: DeviceRegistry, health: S3Health,
                 directory: str | Path | None = None, *,
                 capacity: int = MAX_REMEMBERED) -> None:
        self._registry = registry
        self._health = health
        self._directory = Path(directory) if directory else None
        # Only records S3 returned go in: a device id a client made up never takes room.
        self._known: BoundedDict[str, DeviceRecord] = BoundedDict(capacity)

    def prepare(self) -> bool:
        """Create the records' directory; False (records then kept in memory only) if it fails."""
        if self._directory is None:
            return False
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            self._directory = None
            return False
        return True

    def _remembered(self, device: str | None) -> DeviceRecord | None:
        if device is None:
            return None
        known = self._known.get(device)
        if known is not None or self._directory is None:
            return known
        try:
            document = json.loads((self._directory / f"{device}.json").read_text("utf-8"))
            return DeviceRecord.from_json(document)
        except (OSError, ValueError, TypeError):
            return None

    def _remember(self, record: DeviceRecord) -> None:
        if self._known.get(record.device) == record:
            return
        self._known.put(record.device, record)
        if self._directory is None:
            return
        try:
            atomic_write(self._directory / f"{record.device}.json",
                         json.dumps(record.to_json()).encode("utf-8"))
        except OSError:
            pass

    def authenticate(self, key: str | None, claimed_device: str | None, *,
                     max_age: float | None = None) -> DeviceRecord:
        """The device of ``key``; AuthError if refused, RegistryUnavailable if S3 is down."""
        device = device_of_key(key) if key else None
        # A fresh read (a check-in: max_age given) tries S3 again once the breaker has waited,
        # so a camera that only checks in sees the outage end; uploads wait for their probe.
        read_fresh = max_age is not None and max_age <= 0
        retry = read_fresh and self._health.retry_due()
        if device is not None and self._health.open and not retry:
            known = self._remembered(device)
            if known is not None:
                return check_key(known, key or "", claimed_device)
        try:
            record = self._registry.authenticate(key, claimed_device, max_age=max_age)
        except AuthError:
            # A refusal comes from a fresh record: remember it (a revocation included).
            try:
                fresh = self._registry.get(device) if device else None
            except (BotoCoreError, ClientError):
                fresh = None
            if fresh is not None:
                self._remember(fresh)
            raise
        except (BotoCoreError, ClientError) as exc:
            # S3 is failing: open the breaker, so the rest of this request (the upload, the
            # state) and the next ones do not wait on it again.
            self._health.record(False)
            known = self._remembered(device)
            if known is None:
                raise RegistryUnavailable(str(exc)) from exc
            return check_key(known, key or "", claimed_device)
        if read_fresh:
            self._health.record(True)  # that read went to S3, and S3 answered
        self._remember(record)
        return record
