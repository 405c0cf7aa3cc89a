"""The device registry: ``devices/{device}.json`` holds each camera's key hash and settings.

A device key looks like ``cc1_{device}_{secret}``: the device id in the key lets the ingest
find the record with one GET, and the 192-bit secret is stored only as its SHA-256. (A fast
hash is right here: the secret is random, not a password, so there is nothing to brute-force.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from camcloud import layout
from camcloud.bounded import BoundedDict
from camcloud.device_state import update_json
from camcloud.errors import Refusal
from camcloud.s3 import get_json, iter_keys, put_json

KEY_PREFIX = "cc1"
ROTATIONS = (0, 90, 180, 270)
MAX_NAME_LENGTH = 64


class DeviceError(ValueError):
    """A registry operation was refused (unknown device, duplicate, bad setting)."""


class AuthError(Refusal):
    """A device key was refused: a Refusal with the protocol's error code and HTTP status."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(status, code, message)


def check_name(name: str) -> str:
    """``name`` if it is a device name a terminal and a page can show; DeviceError if not.

    Printable characters only (no escape sequences, newlines or tabs: a name is printed by
    ``camcloud devices list``, issue 13), at most MAX_NAME_LENGTH of them.
    """
    if len(name) > MAX_NAME_LENGTH:
        raise DeviceError(f"a device name has at most {MAX_NAME_LENGTH} characters")
    if not name.isprintable():
        raise DeviceError("a device name must not contain control characters")
    return name


def hash_key(key: str) -> str:
    """The stored form of a device key."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def new_key(device: str) -> str:
    """A fresh random key for ``device`` (192 bits of secret)."""
    return f"{KEY_PREFIX}_{layout.check_device_id(device)}_{secrets.token_urlsafe(24)}"


def device_of_key(key: str) -> str | None:
    """The device id a key names, or None if the key is not in camcloud's format."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[2]:
        return None
    if not layout.DEVICE_ID_RE.fullmatch(parts[1]):
        return None
    return parts[1]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class DeviceRecord:
    """One camera as the registry knows it.

    ``extra`` holds every other top-level field of ``devices/{device}.json``: the device state
    (``config``, ``applied``, ``commands``, ``firmware``, see ``camcloud.device_state``) and
    fields a newer version wrote. The registry's writes keep them, so renaming, revoking or
    rotating a camera never erases its settings or pending commands.
    """

    device: str
    key_hash: str
    created_at: str
    name: str = ""
    rotation: int = 0
    revoked_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def revoked(self) -> bool:
        """Whether the device's key has been revoked."""
        return self.revoked_at is not None

    def to_json(self) -> dict[str, Any]:
        """The record as stored in S3 (the raw document, device state included)."""
        document = dict(self.extra)
        document.update({name: getattr(self, name) for name in _RECORD_FIELDS})
        document["schema"] = 1
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> DeviceRecord:
        """Parse a stored record; fields this class does not name are kept in ``extra``."""
        known = {k: v for k, v in document.items() if k in _RECORD_FIELDS}
        extra = {k: v for k, v in document.items() if k not in _RECORD_FIELDS and k != "schema"}
        return cls(**known, extra=extra)


_RECORD_FIELDS = tuple(f.name for f in fields(DeviceRecord) if f.name != "extra")


def check_key(record: DeviceRecord, key: str, claimed_device: str | None = None) -> DeviceRecord:
    """``record`` if ``key`` is its current key and may upload; raise AuthError otherwise."""
    if not hmac.compare_digest(record.key_hash, hash_key(key)):
        raise AuthError("bad_key", 401, "the device key is not valid")
    if record.revoked:
        raise AuthError("revoked", 403, f"the key of device {record.device!r} is revoked")
    if claimed_device is not None and claimed_device != record.device:
        raise AuthError("device_mismatch", 403, "X-Device-Id does not match the device of the key")
    return record


class DeviceRegistry:
    """Device records in S3, with a short read cache so the ingest costs no GET per upload.

    The cache holds a record for ``cache_seconds``, so a revocation takes effect within that,
    and "no such device" for ``miss_seconds`` only; at most ``max_cached`` ids (the least
    recently used go), since the ids come from whoever sends a request.
    """

    def __init__(
        self,
        client_factory: Callable[[], Any],
        bucket: str,
        *,
        cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        max_cached: int = 10_000,
        miss_seconds: float = 5.0,
    ) -> None:
        self._client = client_factory
        self._bucket = bucket
        self._cache_seconds = cache_seconds
        self._miss_seconds = min(miss_seconds, cache_seconds)
        self._clock = clock
        self._cache: BoundedDict[str, tuple[float, DeviceRecord | None]] = BoundedDict(max_cached)

    def get(self, device: str, *, fresh: bool = False,
            max_age: float | None = None) -> DeviceRecord | None:
        """The record of ``device``, or None; cached unless ``fresh`` (or older than
        ``max_age`` seconds, when given)."""
        layout.check_device_id(device)
        now = self._clock()
        if not fresh:
            cached = self._cache.get(device)
            if cached is not None:
                ttl = self._cache_seconds if cached[1] is not None else self._miss_seconds
                if max_age is not None:
                    ttl = min(ttl, max_age)
                if now - cached[0] < ttl:
                    return cached[1]
        document = get_json(self._client(), self._bucket, layout.device_key(device))
        record = None if document is None else DeviceRecord.from_json(document)
        self._cache.put(device, (now, record))
        return record

    def add(
        self, device: str, *, name: str = "", rotation: int = 0, replace: bool = False
    ) -> tuple[DeviceRecord, str]:
        """Register ``device`` and return its record and its key (shown once, never stored).

        With ``replace``, an existing device gets a new key (rotation); its old key stops working.
        """
        layout.check_device_id(device)
        check_name(name)
        if rotation not in ROTATIONS:
            raise DeviceError(f"rotation must be one of {ROTATIONS}, not {rotation}")
        key = new_key(device)

        def rotated(existing: DeviceRecord | None) -> DeviceRecord:
            return DeviceRecord(
                device=device,
                key_hash=hash_key(key),
                created_at=_now(),
                name=name or (existing.name if existing else ""),
                rotation=rotation if existing is None or rotation else existing.rotation,
                # A new key keeps the camera's settings, commands and firmware state.
                extra=dict(existing.extra) if existing else {},
            )

        existing = self.get(device, fresh=True)
        if replace and existing is not None:
            record = self._write(device, rotated)
        else:
            record = rotated(None)
            if not put_json(self._client(), self._bucket, layout.device_key(device),
                            record.to_json(), if_absent=True):
                raise DeviceError(
                    f"device {device!r} exists already; rotate its key with --rotate"
                )
        self.forget(device)
        return record, key

    def update(self, device: str, **changes: Any) -> DeviceRecord:
        """Change a device's name or rotation."""
        if "rotation" in changes and changes["rotation"] not in ROTATIONS:
            raise DeviceError(f"rotation must be one of {ROTATIONS}, not {changes['rotation']}")
        for name, value in changes.items():
            if name not in {"name", "rotation"}:
                raise DeviceError(f"cannot change {name!r}")
            if name == "name":
                check_name(value)

        def changed(record: DeviceRecord) -> DeviceRecord:
            for name, value in changes.items():
                setattr(record, name, value)
            return record

        record = self._write(device, changed)
        self.forget(device)
        return record

    def revoke(self, device: str) -> DeviceRecord:
        """Revoke ``device``'s key; uploads with it get 403 once caches expire."""

        def revoked(record: DeviceRecord) -> DeviceRecord:
            if record.revoked_at is None:
                record.revoked_at = _now()
            return record

        record = self._write(device, revoked)
        self.forget(device)
        return record

    def list(self) -> list[DeviceRecord]:
        """Every registered device, sorted by id."""
        client = self._client()
        records = []
        for key in iter_keys(client, self._bucket, layout.DEVICES_PREFIX):
            if not key.endswith(".json"):
                continue
            document = get_json(client, self._bucket, key)
            if document is not None:
                records.append(DeviceRecord.from_json(document))
        return sorted(records, key=lambda record: record.device)

    def authenticate(self, key: str | None, claimed_device: str | None = None, *,
                     max_age: float | None = None) -> DeviceRecord:
        """The device a key belongs to; raise AuthError (401 or 403) if it is refused.

        ``max_age`` bounds how old the cached record may be (a check-in reads it fresh).
        """
        if not key:
            raise AuthError("missing_key", 401, "send the device key as 'Authorization: Bearer …'")
        device = device_of_key(key)
        record = self.get(device, max_age=max_age) if device else None
        if record is None:
            raise AuthError("bad_key", 401, "the device key is not valid")
        return check_key(record, key, claimed_device)

    def _write(self, device: str, change: Callable[[DeviceRecord], DeviceRecord]) -> DeviceRecord:
        """Read-modify-write of the record with ``If-Match``: a device-state write made at the
        same moment (the ingest recording a report, the gallery a config) is never lost."""
        layout.check_device_id(device)

        def on_document(document: Any) -> tuple[Any, bool]:
            if not isinstance(document, dict):
                raise DeviceError(f"no device {device!r}")
            updated = change(DeviceRecord.from_json(document)).to_json()
            return updated, updated != document

        document, _ = update_json(self._client(), self._bucket, layout.device_key(device),
                                  on_document)
        return DeviceRecord.from_json(document)

    def forget(self, device: str) -> None:
        """Drop the cached record of ``device`` (its document changed: the next read is fresh)."""
        self._cache.pop(device)
