"""What the gallery's pages work with: settings, the S3 client, a clock, users and small caches.

No Flask here: :func:`gallery.create_app` builds one :class:`Gallery` and the blueprints hand it
to the queries (``gallery.queries``, ``gallery.health``), which tests can call without HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from camcloud import layout
from camcloud.bounded import BoundedDict
from camcloud.devices import DeviceRegistry
from camcloud.ratelimit import RateLimiter
from camcloud.s3 import lazy
from camcloud.settings import Settings
from camcloud.shares import GuessLimiter
from camcloud.users import UserStore
from gallery.jobs import JobRunner, default_runner
from gallery.presign import Presigner

# Records never change once written; remembering what they say lets the cameras page count
# errors and tell imports from uploads without reading a record twice.
_RECORD_FACTS_CACHED = 200_000
_NAMES_CACHED = 10_000
# The gallery reads device records for names and revocation; a few minutes old is fine.
_REGISTRY_CACHE_SECONDS = 300
# The clocks the ingest records; an import records where its time came from ("exif", "file").
UPLOAD_CLOCKS = frozenset({"device", "server"})


@dataclass(frozen=True)
class RecordFacts:
    """What the cameras page needs from a capture's metadata record."""

    status: str
    clock: str | None

    @property
    def imported(self) -> bool:
        """Whether the capture came from ``camcloud import`` rather than a camera's upload."""
        return self.clock is not None and self.clock not in UPLOAD_CLOCKS

    @classmethod
    def of(cls, record: dict[str, Any]) -> RecordFacts:
        """The facts of a metadata record."""
        clock = record.get("clock")
        return cls(str(record.get("status")), clock if isinstance(clock, str) else None)


class Gallery:
    """The gallery's collaborators, made once per app; the S3 client and presigner lazily."""

    def __init__(
        self,
        settings: Settings,
        client_factory: Callable[[], Any],
        *,
        clock: Callable[[], float] = time.time,
        jobs: JobRunner | None = None,
    ) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.zone = ZoneInfo(settings.gallery_timezone)
        self.clock = clock
        self._client_factory = client_factory
        self.registry = DeviceRegistry(
            client_factory, settings.bucket, cache_seconds=_REGISTRY_CACHE_SECONDS
        )
        self.users = UserStore(client_factory, settings.bucket, clock=clock)
        self.login_limiter = RateLimiter(
            settings.gallery_login_per_minute, settings.gallery_login_burst
        )
        self.records: BoundedDict[str, RecordFacts] = BoundedDict(_RECORD_FACTS_CACHED)
        self.names: BoundedDict[str, str] = BoundedDict(_NAMES_CACHED)
        # Raw devices/{device}.json with its read time: the cameras page reads name, revocation
        # and management state from one document (gallery.device_queries.device_document).
        self.device_documents: BoundedDict[str, tuple[float, Any]] = BoundedDict(_NAMES_CACHED)
        self._presigner = lazy(
            lambda: Presigner(self.client, settings.bucket, settings.presign_ttl)
        )
        self._presigner_made = False
        # Background jobs (time-lapse ranges, exports): as the settings say, unless injected.
        self.jobs: JobRunner = jobs if jobs is not None else default_runner(
            settings, client_factory, clock)
        self.guess_limiter = GuessLimiter()

    @property
    def client(self) -> Any:
        """The S3 client."""
        return self._client_factory()

    @property
    def presigner(self) -> Presigner:
        """The URL signer (made on first use: it asks botocore for one probe URL)."""
        signer = self._presigner()
        self._presigner_made = True
        return signer

    def image_origin(self) -> str | None:
        """Where presigned images come from (for the CSP), once the signer exists."""
        return self._presigner().origin if self._presigner_made else None

    def now_ms(self) -> int:
        """The clock's time in Unix milliseconds."""
        return int(self.clock() * 1000)

    def remember(self, meta_key: str, record: Any) -> RecordFacts | None:
        """Remember what a metadata record says (None if it is not one)."""
        if not isinstance(record, dict):
            return None
        facts = RecordFacts.of(record)
        self.records.put(meta_key, facts)
        return facts

    def camera_name(self, device: str, *, read: bool = True) -> str:
        """The camera's name from the registry ('' if none); ``read=False``: no S3 call."""
        if not read:
            return self.names.get(device) or ""
        try:
            record = self.registry.get(device)
        except layout.LayoutError:
            return ""
        name = record.name if record is not None else ""
        self.names.put(device, name)
        return name
