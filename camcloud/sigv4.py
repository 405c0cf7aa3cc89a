"""The SigV4 signing key, derived once per day and secret.

The ingest's fast PutObject path and the gallery's presigner sign with SigV4 themselves (see
their modules for why); both derive the same key: four HMACs, done once a day.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit


def host_of(url: str) -> str:
    """The Host header value SigV4 signs for ``url`` (default port left out)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class SigningKeys:
    """``AWS4-HMAC-SHA256`` signing keys for one region and service, the current one cached."""

    def __init__(self, region: str, service: str = "s3") -> None:
        self.region = region
        self.service = service
        self._cached: dict[tuple[str, str], bytes] = {}

    def get(self, secret: str, day: str) -> bytes:
        """The signing key of ``secret`` for ``day`` (``YYYYMMDD``)."""
        key = self._cached.get((secret, day))
        if key is None:
            key = f"AWS4{secret}".encode()
            for part in (day, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            # One day of one secret at a time: a rotated secret or a new day replaces it.
            self._cached = {(secret, day): key}
        return key
