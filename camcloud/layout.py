"""Every S3 key camcloud reads or writes, built and parsed in one place.

A capture is named by ``(device, rev, capture_id)``; ``rev`` is ``9999999999999 - captured_at_ms``
written as 13 digits, so that S3's ascending key order lists the newest capture first. Every
derived object (thumbnail, preview, metadata record) is named from the same triple, so the key of
any one of them names all the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

REV_MAX = 9_999_999_999_999
REV_DIGITS = 13

RAW_PREFIX = "raw/"
THUMB_PREFIX = "thumbs/"
PREVIEW_PREFIX = "previews/"
META_PREFIX = "meta/"
DEVICES_PREFIX = "devices/"
USERS_PREFIX = "users/"
IDS_PREFIX = "ids/"

DEVICE_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
CAPTURE_ID_RE = re.compile(r"[A-Za-z0-9-]{1,64}")
USER_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_REV_RE = re.compile(r"[0-9]{13}")


class LayoutError(ValueError):
    """A device id, capture id or key does not follow the S3 layout."""


def check_device_id(device: str) -> str:
    """Return ``device`` if it is a valid device id, else raise LayoutError."""
    if not isinstance(device, str) or not DEVICE_ID_RE.fullmatch(device):
        raise LayoutError(
            f"invalid device id {device!r}: use 1-32 of a-z, 0-9 and '-', starting with a letter "
            "or digit"
        )
    return device


def check_capture_id(capture_id: str) -> str:
    """Return ``capture_id`` if it is a valid capture id, else raise LayoutError."""
    if not isinstance(capture_id, str) or not CAPTURE_ID_RE.fullmatch(capture_id):
        raise LayoutError(f"invalid capture id {capture_id!r}: use 1-64 of A-Z, a-z, 0-9 and '-'")
    return capture_id


def check_user_name(name: str) -> str:
    """Return ``name`` if it is a valid gallery user name, else raise LayoutError."""
    if not isinstance(name, str) or not USER_NAME_RE.fullmatch(name):
        raise LayoutError(f"invalid user name {name!r}: use 1-64 of a-z, 0-9, '.', '_' and '-'")
    return name


def rev_from_ms(captured_at_ms: int) -> str:
    """The 13-digit reverse timestamp that sorts newest first."""
    if not 0 <= captured_at_ms <= REV_MAX:
        raise LayoutError(f"capture time {captured_at_ms} ms is outside the key range")
    return f"{REV_MAX - captured_at_ms:0{REV_DIGITS}d}"


def ms_of(moment: datetime) -> int:
    """``moment`` (naive means UTC) in Unix milliseconds, clamped to what a key can hold."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, min(REV_MAX, int(moment.timestamp() * 1000)))


def ms_from_rev(rev: str) -> int:
    """The capture time in Unix milliseconds that ``rev`` encodes."""
    if not _REV_RE.fullmatch(rev):
        raise LayoutError(f"invalid rev {rev!r}: expected 13 digits")
    return REV_MAX - int(rev)


@dataclass(frozen=True, order=True)
class CaptureRef:
    """The name of one capture; every key of the capture derives from it."""

    rev: str
    device: str
    capture_id: str

    def __post_init__(self) -> None:
        check_device_id(self.device)
        check_capture_id(self.capture_id)
        ms_from_rev(self.rev)

    @classmethod
    def new(cls, device: str, captured_at_ms: int, capture_id: str) -> CaptureRef:
        """Name a capture taken by ``device`` at ``captured_at_ms``."""
        return cls(rev=rev_from_ms(captured_at_ms), device=device, capture_id=capture_id)

    @property
    def captured_at_ms(self) -> int:
        """Capture time in Unix milliseconds."""
        return ms_from_rev(self.rev)

    @property
    def stem(self) -> str:
        """``{rev}_{capture_id}``: the file name shared by the per-device keys."""
        return f"{self.rev}_{self.capture_id}"

    @property
    def raw_key(self) -> str:
        """The original JPEG as the device sent it."""
        return f"{RAW_PREFIX}{self.device}/{self.stem}.jpg"

    @property
    def thumb_key(self) -> str:
        """The grid thumbnail."""
        return f"{THUMB_PREFIX}{self.device}/{self.stem}.jpg"

    @property
    def preview_key(self) -> str:
        """The lightbox preview."""
        return f"{PREVIEW_PREFIX}{self.device}/{self.stem}.jpg"

    @property
    def meta_key(self) -> str:
        """The metadata record; ``meta/`` sorts all cameras newest first."""
        return f"{META_PREFIX}{self.rev}_{self.device}_{self.capture_id}.json"

    @property
    def id(self) -> str:
        """A URL-safe id naming the capture: ``{device}_{rev}_{capture_id}``."""
        return f"{self.device}_{self.rev}_{self.capture_id}"

    @classmethod
    def from_id(cls, capture_ref_id: str) -> CaptureRef:
        """Parse the id made by :attr:`id`."""
        parts = capture_ref_id.split("_")
        if len(parts) != 3:
            raise LayoutError(f"invalid capture reference {capture_ref_id!r}")
        device, rev, capture_id = parts
        return cls(rev=rev, device=device, capture_id=capture_id)


def parse_key(key: str) -> CaptureRef:
    """Parse a raw, thumbnail, preview or metadata key back into its CaptureRef."""
    if key.startswith(META_PREFIX):
        name = key[len(META_PREFIX) :]
        if not name.endswith(".json"):
            raise LayoutError(f"not a metadata key: {key!r}")
        parts = name[: -len(".json")].split("_")
        if len(parts) != 3:
            raise LayoutError(f"not a metadata key: {key!r}")
        rev, device, capture_id = parts
        return CaptureRef(rev=rev, device=device, capture_id=capture_id)
    for prefix in (RAW_PREFIX, THUMB_PREFIX, PREVIEW_PREFIX):
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            device, sep, name = rest.partition("/")
            if not sep or not name.endswith(".jpg"):
                raise LayoutError(f"not a capture key: {key!r}")
            rev, sep, capture_id = name[: -len(".jpg")].partition("_")
            if not sep:
                raise LayoutError(f"not a capture key: {key!r}")
            return CaptureRef(rev=rev, device=device, capture_id=capture_id)
    raise LayoutError(f"not a capture key: {key!r}")


def device_key(device: str) -> str:
    """Where the device registry keeps ``device``'s record."""
    return f"{DEVICES_PREFIX}{check_device_id(device)}.json"


def user_key(name: str) -> str:
    """Where a gallery user's record lives."""
    return f"{USERS_PREFIX}{check_user_name(name)}.json"


def id_marker_key(device: str, capture_id: str) -> str:
    """The put-if-absent marker reserving a raw key for ``(device, capture_id)``."""
    return f"{IDS_PREFIX}{check_device_id(device)}/{check_capture_id(capture_id)}"


def device_thumb_prefix(device: str) -> str:
    """Prefix listing one camera's thumbnails, newest first."""
    return f"{THUMB_PREFIX}{check_device_id(device)}/"


def device_raw_prefix(device: str) -> str:
    """Prefix listing one camera's originals, newest first."""
    return f"{RAW_PREFIX}{check_device_id(device)}/"
