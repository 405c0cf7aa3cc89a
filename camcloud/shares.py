"""Share links: one capture, one day of one camera, or a time-lapse, without a login.

A share is named by a random token (256 bits, ``secrets.token_urlsafe(32)``) that only the link
holds. The bucket stores ``shares/{sha256(token)}.json``: looking a token up is one GET, and
the token itself is never stored, so a copy of the bucket cannot open a share. Revoked, expired
and never-existing shares look the same to a visitor (:meth:`ShareStore.resolve` returns None),
a client that keeps guessing is slowed down (:class:`GuessLimiter`), and a shared page may only
presign the keys :func:`may_presign` allows: the shared capture's thumbnail and preview (its
original with the download permission), that camera's captures of that day, or that one
time-lapse; never ``users/``, ``devices/``, ``firmware/``, metadata, or another camera.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from camcloud import s3
from camcloud.bounded import BoundedDict
from camcloud.errors import Refusal
from camcloud.export import ExportError, day_range
from camcloud.layout import (
    PREVIEW_PREFIX,
    RAW_PREFIX,
    THUMB_PREFIX,
    CaptureRef,
    LayoutError,
    check_device_id,
    check_user_name,
    parse_key,
    rev_from_ms,
)
from camcloud.ratelimit import RateLimiter

SHARES_PREFIX = "shares/"
MIN_TTL_S = 3600
MAX_TTL_S = 30 * 86400
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_HASH_RE = re.compile(r"[0-9a-f]{64}")
SHARE_ID_RE = re.compile(r"[0-9a-f]{16}")
TIMELAPSE_RE = re.compile(
    r"timelapse/(?P<device>[a-z0-9][a-z0-9-]{0,31})/"
    r"(?:\d{4}-\d{2}-\d{2}|range/[A-Za-z0-9_.-]{1,120})\.mp4"
)
_TTL_RE = re.compile(r"(\d+)\s*([mhd])")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def token_hash(token: str) -> str:
    """The SHA-256 of a token, hex: the name its share is stored under."""
    return hashlib.sha256(token.encode()).hexdigest()


def share_key(token_sha256: str) -> str:
    """Where the share whose token hashes to ``token_sha256`` is stored."""
    if not _HASH_RE.fullmatch(token_sha256):
        raise ValueError("not a token hash")
    return f"{SHARES_PREFIX}{token_sha256}.json"


def parse_ttl(text: str) -> int:
    """``90m``, ``12h``, ``7d``, ``1d12h`` -> seconds, between 1 hour and 30 days."""
    compact = text.strip().lower().replace(" ", "") if isinstance(text, str) else ""
    parts = _TTL_RE.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise Refusal(400, "bad_ttl", f"expiry {text!r}: use e.g. 1h, 12h, 7d or 1d12h")
    return check_ttl(sum(int(n) * _UNITS[u] for n, u in parts))


def check_ttl(seconds: int) -> int:
    """Return ``seconds`` if it is between 1 hour and 30 days, else refuse it (400)."""
    if not MIN_TTL_S <= seconds <= MAX_TTL_S:
        raise Refusal(400, "bad_ttl", "a share lasts between 1 hour and 30 days")
    return seconds


@dataclass(frozen=True)
class Share:
    """What a share shows, to whom it belongs, and until when."""

    id: str
    token_sha256: str
    kind: str  # "capture" | "day" | "timelapse"
    device: str
    created_by: str
    created_at: int
    expires_at: int
    download: bool = False
    revoked: bool = False
    capture: str | None = None  # CaptureRef.id
    date: str | None = None
    timezone: str = "UTC"
    timelapse: str | None = None

    def live(self, now: float) -> bool:
        """Whether the share may be shown at ``now`` (Unix seconds)."""
        return not self.revoked and now * 1000 < self.expires_at

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"schema": 1, **asdict(self)}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Share:
        """Read the stored form (ValueError/TypeError/KeyError if malformed)."""
        fields = {name: document[name] for name in cls.__dataclass_fields__ if name in document}
        share = cls(**fields)
        if (share.kind not in {"capture", "day", "timelapse"}
                or not isinstance(share.expires_at, int) or not isinstance(share.revoked, bool)
                or not isinstance(share.download, bool) or not isinstance(share.device, str)):
            raise ValueError("malformed share record")
        return share


def may_presign(share: Share, key: str) -> bool:
    """Whether a page showing ``share`` may presign ``key``: exactly what was shared."""
    if share.kind == "timelapse":
        return key == share.timelapse
    try:
        ref = parse_key(key)
    except LayoutError:
        return False
    prefixes = (THUMB_PREFIX, PREVIEW_PREFIX) + ((RAW_PREFIX,) if share.download else ())
    if not key.startswith(prefixes) or ref.device != share.device:
        return False
    if share.kind == "capture":
        return ref.id == share.capture
    if share.kind == "day" and share.date:
        since, until = day_range(share.date, share.timezone)
        return since <= ref.captured_at_ms < until
    return False


def _keys_of(ref: CaptureRef, download: bool) -> list[str]:
    return [ref.thumb_key, ref.preview_key] + ([ref.raw_key] if download else [])


def allowed_keys(share: Share, client: Any, bucket: str, *, limit: int = 5000) -> list[str]:
    """Every key the shared page may presign (a day lists that camera's thumbnails: one
    request per 1,000 captures)."""
    if share.kind == "timelapse" and share.timelapse:
        return [share.timelapse]
    if share.kind == "capture" and share.capture:
        return _keys_of(CaptureRef.from_id(share.capture), share.download)
    if share.kind != "day" or not share.date:
        return []
    since, until = day_range(share.date, share.timezone)
    prefix = f"{THUMB_PREFIX}{share.device}/"
    keys: list[str] = []
    start_after: str | None = f"{prefix}{rev_from_ms(until)}`"
    while start_after and len(keys) < limit:
        page = s3.list_page(client, bucket, prefix, start_after=start_after, max_keys=1000)
        for key in page.keys:
            ref = parse_key(key)
            if ref.captured_at_ms < since:
                return keys
            if ref.captured_at_ms < until:
                keys.extend(_keys_of(ref, share.download))
        start_after = page.next_start_after
    return keys


class ShareStore:
    """Create, resolve, list and revoke shares under ``shares/``."""

    def __init__(self, client: Any, bucket: str, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._bucket = bucket
        self._clock = clock

    def create(
        self,
        *,
        user: str,
        ttl_s: int,
        capture: str | None = None,
        device: str | None = None,
        date: str | None = None,
        timezone: str = "UTC",
        timelapse: str | None = None,
        download: bool = False,
    ) -> tuple[str, Share]:
        """Share one capture (its id), one day of a camera, or one time-lapse key.

        Returns the token (shown once, put in the link) and the share. What is shared must
        exist (one HEAD request for a capture or a time-lapse).
        """
        check_user_name(user)
        check_ttl(ttl_s)
        chosen = [capture is not None, date is not None or device is not None,
                  timelapse is not None]
        if sum(chosen) != 1:
            raise Refusal(400, "bad_share",
                          "share exactly one of: a capture, a day of a camera, a time-lapse")
        kind: str
        if capture is not None:
            try:
                ref = CaptureRef.from_id(capture)
            except LayoutError:
                raise Refusal(400, "bad_share", f"invalid capture id {capture[:80]!r}") from None
            kind, device, must_exist = "capture", ref.device, ref.raw_key
        elif timelapse is not None:
            match = TIMELAPSE_RE.fullmatch(timelapse)
            if not match:
                raise Refusal(400, "bad_share",
                              f"not a time-lapse key: {timelapse[:120]!r} "
                              "(timelapse/DEVICE/YYYY-MM-DD.mp4)")
            kind, device, must_exist = "timelapse", match["device"], timelapse
        else:
            if device is None or date is None:
                raise Refusal(400, "bad_share", "a day share needs a camera and a date")
            try:
                check_device_id(device)
                day_range(date, timezone)
            except (LayoutError, ExportError) as exc:
                raise Refusal(400, "bad_share", str(exc)) from None
            kind, must_exist = "day", ""
        if must_exist and not s3.exists(self._client, self._bucket, must_exist):
            raise Refusal(404, "not_found", "there is nothing to share under that name")
        token = secrets.token_urlsafe(32)
        digest = token_hash(token)
        now_ms = int(self._clock() * 1000)
        share = Share(id=digest[:16], token_sha256=digest, kind=kind, device=str(device),
                      created_by=user, created_at=now_ms, expires_at=now_ms + ttl_s * 1000,
                      download=download, capture=capture, date=date if kind == "day" else None,
                      timezone=timezone, timelapse=timelapse)
        s3.put_json(self._client, self._bucket, share_key(digest), share.to_json(),
                    if_absent=True)
        return token, share

    def resolve(self, token: str, now: float | None = None) -> Share | None:
        """The live share a token opens, or None (revoked, expired and unknown look the same)."""
        if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
            return None
        digest = token_hash(token)
        try:
            document = s3.get_json(self._client, self._bucket, share_key(digest))
            share = Share.from_json(document) if isinstance(document, dict) else None
        except (ValueError, TypeError, KeyError):
            return None
        # The key already is the hash; comparing again, in constant time, guards against a
        # record copied under the wrong name.
        if share is None or not hmac.compare_digest(share.token_sha256, digest):
            return None
        return share if share.live(self._clock() if now is None else now) else None

    def list_shares(self, user: str | None = None) -> list[Share]:
        """Every share (of ``user`` if given), newest first: one listing plus one GET each."""
        found = []
        for key in s3.iter_keys(self._client, self._bucket, SHARES_PREFIX):
            try:
                document = s3.get_json(self._client, self._bucket, key)
                share = Share.from_json(document)
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
            if user is None or share.created_by == user:
                found.append(share)
        return sorted(found, key=lambda share: share.created_at, reverse=True)

    def revoke(self, share_id: str, *, user: str | None = None) -> Share:
        """Revoke a share by its id (shown in lists); only its creator, when ``user`` is given."""
        if not isinstance(share_id, str) or not SHARE_ID_RE.fullmatch(share_id):
            raise Refusal(400, "bad_share_id", "a share id is 16 hex digits (see share list)")
        keys = s3.list_page(self._client, self._bucket, f"{SHARES_PREFIX}{share_id}",
                            max_keys=2).keys
        if len(keys) != 1:
            raise Refusal(404, "not_found", f"no share {share_id}")
        document = s3.get_json(self._client, self._bucket, keys[0])
        share = Share.from_json(document)
        if user is not None and share.created_by != user:
            raise Refusal(404, "not_found", f"no share {share_id}")
        revoked = Share(**{**asdict(share), "revoked": True})
        s3.put_json(self._client, self._bucket, keys[0], revoked.to_json())
        return revoked


class GuessLimiter:
    """Slows down a client address that keeps opening share links that do not work.

    Only misses cost: a visitor opening a good link is never limited. ``per_minute`` misses
    per address, up to ``burst`` at once (camcloud.ratelimit's token bucket); the miss that
    finds the bucket empty blocks the address, which then gets 429 with ``Retry-After`` until
    a token is back, without any S3 request.
    """

    def __init__(self, per_minute: float = 10.0, burst: int = 20, *,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 100_000) -> None:
        self._limiter = RateLimiter(per_minute, burst, clock=clock, max_devices=max_clients)
        self._blocked: BoundedDict[str, float] = BoundedDict(max_clients)
        self._clock = clock

    def check(self, address: str) -> None:
        """Refuse (429) an address that is waiting out its guesses."""
        until = self._blocked.get(address)
        if until is not None:
            wait = until - self._clock()
            if wait > 0:
                raise Refusal(429, "too_many_requests", "too many share links tried; wait",
                              {"Retry-After": str(RateLimiter.retry_after(wait))})
            self._blocked.pop(address)

    def miss(self, address: str) -> None:
        """Count a link that opened nothing."""
        wait = self._limiter.acquire(address)
        if wait > 0:
            self._blocked.put(address, self._clock() + wait)


def open_share(store: ShareStore, limiter: GuessLimiter, address: str, token: str,
               now: float | None = None) -> Share | None:
    """What the shared page does: limit guessing clients, then resolve the token."""
    limiter.check(address)
    share = store.resolve(token, now)
    if share is None:
        limiter.miss(address)
    return share


def describe(share: Share) -> str:
    """One line for lists: what is shared, until when."""
    until = datetime.fromtimestamp(share.expires_at / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    what = {"capture": share.capture, "day": f"{share.device} on {share.date}",
            "timelapse": share.timelapse}[share.kind]
    state = "revoked" if share.revoked else f"until {until}"
    return f"{share.id} {share.kind} {what} ({state}){' +download' if share.download else ''}"
