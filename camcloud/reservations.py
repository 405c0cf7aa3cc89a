"""Reserving the raw key of a capture, so that every retry of it lands on one key.

The raw key holds the capture time, and the retries of one capture need not carry the same
one: without ``X-Captured-At`` each retry gets a new receive time, and a camera may send a
retry dated after an undated attempt, or with a time counted back again after a clock re-sync.
The first writer reserves ``(device, capture_id)`` under ``ids/`` with put-if-absent, naming the
key it chose; every later writer (a retry, a concurrent retry, a re-run of ``camcloud import``)
reads the reservation back and writes to the same key, whatever time it carries. A crash between
reservation and original leaves a reservation that the next retry completes. Reservations expire
after a week (bucket lifecycle).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from camcloud import layout
from camcloud.s3 import get_json, put_if_absent

# Writes (key, JSON bytes) unless the key exists; True when it created it.
PutIfAbsent = Callable[[str, bytes], bool]


def reserve_raw_key(client: Any, bucket: str, proposed: layout.CaptureRef,
                    put: PutIfAbsent | None = None) -> layout.CaptureRef:
    """The capture every writer of ``(device, capture_id)`` must use: ``proposed`` or earlier.

    ``put`` writes the reservation instead of ``client`` (the ingest's signed fast path); the
    reservation is read back through ``client`` only when it existed.
    """
    marker = layout.id_marker_key(proposed.device, proposed.capture_id)
    reservation = json.dumps({"raw_key": proposed.raw_key}).encode()
    if put is not None:
        created = put(marker, reservation)
    else:
        created = put_if_absent(client, bucket, marker, reservation,
                                content_type="application/json")
    if created:
        return proposed
    try:
        document = get_json(client, bucket, marker)
        reserved = layout.parse_key(str(document["raw_key"]))
    except (ValueError, TypeError, KeyError):  # JSON and layout errors are ValueErrors
        # An unreadable reservation must not block the capture forever.
        return proposed
    if (reserved.device, reserved.capture_id) != (proposed.device, proposed.capture_id):
        return proposed
    return reserved
