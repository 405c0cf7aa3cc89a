"""Repairs: run the thumbnailer over originals already in ``raw/`` (the ``reprocess`` service).

All of them, one camera, a time range, or only those without a record, so a changed thumbnail
size, a device rotation set after the fact or an event that never arrived is repaired with one
command (``camcloud reprocess``, in ``camcloud_cli``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from camcloud import layout
from camcloud.s3 import iter_keys, list_prefixes


class CaptureProcessor(Protocol):
    """What a reprocess runs per capture: ``Thumbnailer.process_capture``."""

    def process_capture(self, bucket: str, ref: layout.CaptureRef) -> dict[str, Any] | None:
        """Render one capture; its record, or None if the original is gone."""


@dataclass(frozen=True)
class Selection:
    """Which originals to reprocess; times are UTC, ``until`` exclusive."""

    device: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    missing_only: bool = False


@dataclass
class ReprocessResult:
    """What a reprocess run did."""

    rendered: int = 0
    bad: dict[str, str] = field(default_factory=dict)
    gone: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def _rev_bounds(selection: Selection) -> tuple[str | None, str | None]:
    """(exclusive lower rev bound from ``until``, inclusive upper rev bound from ``since``)."""
    after = layout.rev_from_ms(layout.ms_of(selection.until)) if selection.until else None
    last = layout.rev_from_ms(layout.ms_of(selection.since)) if selection.since else None
    return after, last


def _keys_in_range(
    client: Any, bucket: str, prefix: str, after_rev: str | None, last_rev: str | None
) -> Iterator[str]:
    """Keys ``{prefix}{rev}_…`` with ``after_rev < rev <= last_rev``, in S3 order.

    Keys sort newest first, so a range is one listing that starts after ``until`` and stops
    at ``since``: a day of one camera costs a day's listing, not the bucket's.
    """
    # '~' sorts after every character of a device or capture id.
    start_after = f"{prefix}{after_rev}_~" if after_rev is not None else None
    for key in iter_keys(client, bucket, prefix, start_after=start_after):
        rev = key[len(prefix) : len(prefix) + layout.REV_DIGITS]
        if last_rev is not None and rev > last_rev:
            return
        yield key


def camera_ids(client: Any, bucket: str) -> list[str]:
    """Every device that has originals under ``raw/``."""
    return [device for device in list_prefixes(client, bucket, layout.RAW_PREFIX)
            if layout.DEVICE_ID_RE.fullmatch(device)]


def select_captures(client: Any, bucket: str, selection: Selection) -> list[layout.CaptureRef]:
    """The captures a reprocess of ``selection`` covers, newest first per camera."""
    after_rev, last_rev = _rev_bounds(selection)
    devices = [layout.check_device_id(selection.device)] if selection.device else camera_ids(
        client, bucket
    )
    refs = []
    for device in devices:
        prefix = layout.device_raw_prefix(device)
        for key in _keys_in_range(client, bucket, prefix, after_rev, last_rev):
            try:
                refs.append(layout.parse_key(key))
            except layout.LayoutError:
                continue
    if selection.missing_only:
        recorded = set(_keys_in_range(client, bucket, layout.META_PREFIX, after_rev, last_rev))
        refs = [ref for ref in refs if ref.meta_key not in recorded]
    return refs


def _outcome(result: ReprocessResult, ref: layout.CaptureRef,
             record: dict[str, Any] | None) -> str:
    """Count one finished capture in ``result``; its outcome's name."""
    if record is None:
        result.gone += 1
        return "gone"
    if record.get("status") == "error":
        result.bad[ref.raw_key] = str(record.get("error_code"))
        return "bad"
    result.rendered += 1
    return "rendered"


def reprocess(
    thumbnailer: CaptureProcessor,
    bucket: str,
    refs: Iterable[layout.CaptureRef],
    *,
    jobs: int = 4,
    on_progress: Callable[[layout.CaptureRef, str], None] | None = None,
) -> ReprocessResult:
    """Run ``thumbnailer.process_capture`` over ``refs`` with ``jobs`` threads.

    A failure of one capture is recorded and the run goes on; the caller reports it.
    """
    result = ReprocessResult()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(thumbnailer.process_capture, bucket, ref): ref for ref in refs}
        for future in as_completed(futures):
            ref = futures[future]
            try:
                outcome = _outcome(result, ref, future.result())
            except Exception as exc:  # noqa: BLE001 - reported per capture, the run goes on
                result.failed[ref.raw_key] = f"{type(exc).__name__}: {exc}"
                outcome = "failed"
            if on_progress is not None:
                on_progress(ref, outcome)
    return result
