"""Hostile JPEGs from the issue 13 attack, as functions and hypothesis strategies.

Shared by the validation, thumbnailer and ingest tests: a progressive-scan CPU bomb (one DC
scan, then thousands of tiny all-EOB AC scans) and a fill-byte flood (``FF D8``, 0xFF fill,
``FF D9``).
"""

from __future__ import annotations

import functools
import io

from hypothesis import strategies as st
from PIL import Image


def segments(data: bytes) -> list[bytes]:
    """Split a well-formed JPEG into marker segments; a scan keeps its entropy-coded data."""
    parts = [data[:2]]
    pos = 2
    while data[pos + 1] != 0xD9:
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if data[pos + 1] == 0xDA:
            while not (data[end] == 0xFF and data[end + 1] not in {0, *range(0xD0, 0xD8)}):
                end += 1
        parts.append(data[pos:end])
        pos = end
    parts.append(data[pos:])
    return parts


@functools.lru_cache(maxsize=8)
def _progressive_grey(width: int, height: int) -> tuple[bytes, ...]:
    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, "JPEG", progressive=True)
    return tuple(segments(out.getvalue()))


def scan_bomb(scans: int, width: int = 4000, height: int = 4000) -> bytes:
    """A grey progressive JPEG with one DC scan and ``scans`` copies of a tiny AC scan.

    Each copy is a Huffman table and an all-EOB scan of about 40 bytes, yet each makes a
    decoder pass over every block of the frame again: 10,000 of them at 4000x4000 (about
    400 kB) cost seconds of CPU to decode.
    """
    parts = list(_progressive_grey(width, height))
    first_scan = next(i for i, part in enumerate(parts) if part[1] == 0xDA)
    # The DHT + SOS of the first AC scan that follows the DC scan.
    ac_scan = parts[first_scan + 1] + parts[first_scan + 2]
    assert parts[first_scan + 2][1] == 0xDA
    return b"".join(parts[: first_scan + 1]) + ac_scan * scans + b"\xff\xd9"


def fill_flood(size: int) -> bytes:
    """``FF D8``, then 0xFF fill bytes, then ``FF D9``: ``size`` bytes in all."""
    return b"\xff\xd8" + b"\xff" * (size - 4) + b"\xff\xd9"


def scan_bombs() -> st.SearchStrategy[bytes]:
    """Scan bombs of varied frame sizes and scan counts, all over the work caps."""
    return st.builds(
        scan_bomb,
        scans=st.integers(min_value=101, max_value=3_000),
        width=st.sampled_from([64, 640, 2000]),
        height=st.sampled_from([48, 480, 1500]),
    )


def fill_floods() -> st.SearchStrategy[bytes]:
    """Fill-byte floods from just over the cap to 8 MiB."""
    return st.integers(min_value=1_100, max_value=8 * 1024 * 1024).map(fill_flood)
