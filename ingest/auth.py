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
import os
import threading
import uuid
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from camcloud.devices import AuthError, DeviceRecord, DeviceRegistry, check_key, device_of_key
from ingest.health import S3Health

MAX_REMEMBERED = 100_000


class RegistryUnavailable(Exception):
    """S3 could not be asked about a device this process has never seen."""


class Authenticator:
    """``DeviceRegistry.authenticate`` with a last-known-good fallback during S3 outages."""

    def __init__(self, registry: DeviceRegistry, health: S3Health,
                 directory: str | Path | None = None) -> None:
        self._registry = registry
        self._health = health
        self._directory = Path(directory) if directory else None
        self._known: dict[str, DeviceRecord] = {}
        self._lock = threading.Lock()

    def _remembered(self, device: str | None) -> DeviceRecord | None:
        if device is None:
            return None
        with self._lock:
            known = self._known.get(device)
        if known is not None or self._directory is None:
            return known
        try:
            document = json.loads((self._directory / f"{device}.json").read_text("utf-8"))
            return DeviceRecord.from_json(document)
        except (OSError, ValueError, TypeError):
            return None

    def _remember(self, record: DeviceRecord) -> None:
        with self._lock:
            unchanged = self._known.get(record.device) == record
            if not unchanged:
                if record.device not in self._known and len(self._known) >= MAX_REMEMBERED:
                    self._known.pop(next(iter(self._known)))
                self._known[record.device] = record
        if unchanged or self._directory is None:
            return
        target = self._directory / f"{record.device}.json"
        temporary = self._directory / f".{record.device}.{uuid.uuid4().hex}.tmp"
        try:
            temporary.write_text(json.dumps(record.to_json()), encoding="utf-8")
            os.replace(temporary, target)
        except OSError:
            temporary.unlink(missing_ok=True)

    def authenticate(self, key: str | None, claimed_device: str | None) -> DeviceRecord:
        """The device of ``key``; AuthError if refused, RegistryUnavailable if S3 is down."""
        device = device_of_key(key) if key else None
        if device is not None and self._health.open:
            known = self._remembered(device)
            if known is not None:
                return check_key(known, key or "", claimed_device)
        try:
            record = self._registry.authenticate(key, claimed_device)
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
            known = self._remembered(device)
            if known is None:
                raise RegistryUnavailable(str(exc)) from exc
            return check_key(known, key or "", claimed_device)
        self._remember(record)
        return record
