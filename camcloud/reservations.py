"""Reserving the raw key of a capture whose time comes from the server's clock.

Each retry of such a capture would get a new receive time and so a new key. The first writer
reserves ``(device, capture_id)`` under ``ids/`` with put-if-absent, naming the key it chose;
every later writer (a retry, a concurrent retry, a re-run of ``camcloud import``) reads the
reservation back and writes to the same key. A crash between reservation and original leaves a
reservation that the next retry completes. Reservations expire after a week (bucket lifecycle).
"""

from __future__ import annotations

import json
from typing import Any

from camcloud import layout
from camcloud.s3 import get_json, put_if_absent


def reserve_raw_key(client: Any, bucket: str, proposed: layout.CaptureRef) -> layout.CaptureRef:
    """The capture every writer of ``(device, capture_id)`` must use: ``proposed`` or earlier."""
    marker = layout.id_marker_key(proposed.device, proposed.capture_id)
    reservation = json.dumps({"raw_key": proposed.raw_key}).encode()
    if put_if_absent(client, bucket, marker, reservation, content_type="application/json"):
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
