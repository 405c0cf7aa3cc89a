"""The time-lapse service: one camera's captures in a time range -> an MP4 and its sidecar in S3.

S3 requests for a range of N captures of which F become frames:

- ``ceil(N / 1000)`` ListObjectsV2 calls on ``previews/{device}/``: one camera's keys only, newest
  first, starting right at the range's end (``StartAfter``) and stopping at its start; the rev in
  each key is the capture time, so nothing outside the range is read. (``meta/`` would list every
  camera's captures of the range.)
- N GETs of the metadata records (status, sha256, ``quality.dark``/``brightness``), F GETs of the
  previews: both through a bounded pool of concurrent requests.
- one PUT of the video (a multipart upload above 8 MiB: 3 + size/8 MiB requests), one PUT of the
  sidecar.

The video is encoded into a temporary file and uploaded to its final key only when complete, so
an interrupted build leaves nothing there; the sidecar is written after the video, so a sidecar
always describes a complete video.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from camcloud import layout
from camcloud.errors import Refusal
from camcloud.s3 import get_bytes, list_page, list_prefixes, put_json
from camcloud.timelapse import video
from camcloud.timelapse.plan import (
    Candidate,
    Captures,
    Frame,
    FrameChooser,
    NoUsableFrames,
    Options,
    Plan,
    RangeTooLong,
    daily_key,
    day_window,
    estimate_seconds,
    range_key,
    sidecar,
    sidecar_key,
    to_ms,
)

log = logging.getLogger("camcloud.timelapse")

Clock = Callable[[], datetime]
Progress = Callable[[int, int], None]
T = TypeVar("T")
R = TypeVar("R")

# Concurrent GETs: enough to hide S3's ~20-50 ms first-byte latency behind the encoder, few
# enough that the frames in flight (about 3 MiB each, decoded) stay a small, fixed amount.
WORKERS = 8
WINDOW = 2 * WORKERS
LIST_PAGE = 1000
_CACHE = "private, max-age=3600"


@dataclass(frozen=True)
class Result:
    """What a build wrote: the video's key, its sidecar's key and the sidecar itself."""

    key: str
    sidecar_key: str
    sidecar: dict[str, Any]

    @property
    def frames_used(self) -> int:
        """Frames in the video."""
        return int(self.sidecar["frames_used"])

    @property
    def skipped(self) -> dict[str, int]:
        """Captures left out, by reason."""
        return dict(self.sidecar["skipped"])


def bounded_map(pool: ThreadPoolExecutor, work: Callable[[T], R], items: Iterable[T],
                window: int) -> Iterator[R]:
    """``work(item)`` for every item, in order, with at most ``window`` results in flight."""
    pending: deque[Future[R]] = deque()
    source = iter(items)
    try:
        for item in source:
            pending.append(pool.submit(work, item))
            if len(pending) >= window:
                break
        while pending:
            done = pending.popleft()
            for item in source:
                pending.append(pool.submit(work, item))
                break
            yield done.result()
    finally:
        # A consumer that stops early (an error, an interruption) must not leave work running.
        for future in pending:
            future.cancel()


def _after(prefix: str, end_ms: int) -> str:
    # Keys at exactly end_ms are "{rev}_{id}.jpg"; '~' sorts after every capture id character.
    return f"{prefix}{layout.rev_from_ms(end_ms)}_~"


def list_captures(client: Any, bucket: str, device: str, start: datetime,
                  end: datetime) -> Captures:
    """The captures of ``device`` in ``[start, end)``, newest first (one LIST per 1000),
    packed (a few bytes a capture: they are kept for the whole build)."""
    prefix = layout.device_thumb_prefix(device).replace(layout.THUMB_PREFIX,
                                                         layout.PREVIEW_PREFIX, 1)
    start_ms, end_ms = to_ms(start), to_ms(end)
    refs = Captures(device)
    start_after: str | None = _after(prefix, end_ms)
    while start_after is not None:
        page = list_page(client, bucket, prefix, start_after=start_after, max_keys=LIST_PAGE)
        for key in page.keys:
            try:
                ref = layout.parse_key(key)
            except layout.LayoutError:
                continue
            if ref.captured_at_ms < start_ms:
                return refs
            refs.append(ref)
        start_after = page.next_start_after
    return refs


def _candidate(client: Any, bucket: str, ref: layout.CaptureRef) -> Candidate:
    # A transient S3 error raises (the build is retried); a missing record is a finding.
    record = get_bytes(client, bucket, ref.meta_key)
    if record is None:
        return Candidate.from_record(ref, None)
    try:
        document = json.loads(record)
    except ValueError:
        document = None  # a record that is not JSON counts as no record
    return Candidate.from_record(ref, document)


def load_candidates(client: Any, bucket: str, refs: Iterable[layout.CaptureRef],
                    pool: ThreadPoolExecutor) -> Iterator[Candidate]:
    """The records of ``refs``, in order, fetched through the pool (a capture without one is
    "missing"); yielded one at a time, so that only the frame choice keeps anything of them."""
    return bounded_map(pool, lambda ref: _candidate(client, bucket, ref), refs, WINDOW)


def plan_frames(client: Any, bucket: str, refs: Captures, options: Options,
                pool: ThreadPoolExecutor) -> Plan:
    """The plan of ``refs``: their records read oldest first and decided one by one (records,
    skipped captures and duplicates' sha256 are not kept)."""
    chooser = FrameChooser(options)
    for candidate in load_candidates(client, bucket, refs.oldest_first(), pool):
        chooser.add(candidate)
    return chooser.plan()


@dataclass(frozen=True)
class _Prepared:
    frame: Any  # av.VideoFrame, or None when the preview could not be read
    reason: str | None = None


def _load_frame(client: Any, bucket: str, frame: Frame) -> Any:
    body = get_bytes(client, bucket, frame.ref.preview_key)
    if body is None:
        raise video.Unreadable("the preview is missing")
    return video.decode(body)


def _prepare(client: Any, bucket: str, frame: Frame, size: tuple[int, int],
             options: Options, decoded: Any = None) -> _Prepared:
    try:
        if decoded is None:
            decoded = _load_frame(client, bucket, frame)
        stamp_at = frame.captured_at_ms if options.stamp else None
        return _Prepared(video.prepare(decoded, size, frame.gain, stamp_at, options.tz))
    except video.Unreadable as exc:
        log.warning("preview unreadable, skipped",
                    extra={"key": frame.ref.preview_key, "reason": str(exc)})
        return _Prepared(None, str(exc))


def encode_frames(
    client: Any, bucket: str, plan: Plan, options: Options, path: Path,
    pool: ThreadPoolExecutor, progress: Progress | None = None,
) -> tuple[int, int, tuple[int, int]]:
    """Fetch, decode and encode the plan's frames into ``path``.

    Returns (frames encoded, unreadable previews, (width, height)); the first readable preview
    sets the size, later ones of another size are padded to it.
    """
    frames = iter(plan.frames)  # made one at a time from the plan's packed captures
    total = len(plan.frames)
    unreadable = 0
    done = 0
    first: Any = None
    size = (0, 0)
    # The first readable preview is fetched alone: its size configures the encoder; the rest
    # of the iterator then goes through the pool.
    for frame in frames:
        done += 1
        try:
            decoded = _load_frame(client, bucket, frame)
        except video.Unreadable:
            unreadable += 1
            if progress:
                progress(done, total)
            continue
        size = video.even_size(decoded.width, decoded.height)
        first = _prepare(client, bucket, frame, size, options, decoded).frame
        break
    if first is None:
        return 0, unreadable, size
    encoder = video.Encoder(path, size, options)
    with encoder:
        encoder.add(first)
        if progress:
            progress(done, total)
        work = lambda frame: _prepare(client, bucket, frame, size, options)  # noqa: E731
        for prepared in bounded_map(pool, work, frames, WINDOW):
            done += 1
            if prepared.frame is None:
                unreadable += 1
            else:
                encoder.add(prepared.frame)
            if progress:
                progress(done, total)
    return encoder.frames, unreadable, size


def build_timelapse(
    client: Any,
    bucket: str,
    device: str,
    start: datetime,
    end: datetime,
    options: Options | None = None,
    *,
    clock: Clock,
    progress: Progress | None = None,
    key: str | None = None,
    time_budget_s: float | None = None,
    tmp_dir: str | None = None,
) -> Result:
    """Build the time-lapse of ``device`` over ``[start, end)`` and store it with its sidecar.

    ``key`` defaults to the range key of these options. ``time_budget_s`` (a Lambda's remaining
    time) refuses, before any record is read, a build estimated to take longer. Raises
    NoUsableFrames (nothing written) when no capture makes a frame.
    """
    options = options or Options()
    try:
        layout.check_device_id(device)
    except layout.LayoutError as exc:
        raise Refusal(400, "bad_device", str(exc)) from None
    if to_ms(end) <= to_ms(start):
        raise Refusal(400, "bad_range", f"the range ends ({end.isoformat()}) before it starts "
                      f"({start.isoformat()})")
    key = key or range_key(device, start, end, options)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="timelapse") as pool:
        refs = list_captures(client, bucket, device, start, end)
        if time_budget_s is not None:
            # Before the records: a year of captures would time out just reading them.
            most = len(refs) if options.max_frames is None else min(len(refs),
                                                                     options.max_frames)
            needed = estimate_seconds(most, records=len(refs))
            if needed > time_budget_s:
                raise RangeTooLong(len(refs), most, needed, time_budget_s)
        plan = plan_frames(client, bucket, refs, options, pool)
        del refs  # the plan keeps the chosen captures
        if not plan.frames:
            raise NoUsableFrames(device, start, end, plan)
        handle, name = tempfile.mkstemp(prefix="timelapse-", suffix="." + options.container,
                                        dir=tmp_dir)
        os.close(handle)
        path = Path(name)
        try:
            used, unreadable, (width, height) = encode_frames(
                client, bucket, plan, options, path, pool, progress)
            if used == 0:
                plan.skipped["unreadable"] = unreadable
                raise NoUsableFrames(device, start, end, plan)
            size = path.stat().st_size
            # upload_file switches to a multipart upload for big files; S3 shows the object
            # only when the upload completes, so a failure here leaves the key untouched.
            client.upload_file(str(path), bucket, key, ExtraArgs={
                "ContentType": "video/mp4", "CacheControl": _CACHE})
        finally:
            path.unlink(missing_ok=True)
    document = sidecar(
        device=device, key=key, start=start, end=end, options=options, plan=plan,
        frames_used=used, unreadable=unreadable, width=width, height=height, size=size,
        built_at=clock(), elapsed_s=time.perf_counter() - started,
    )
    put_json(client, bucket, sidecar_key(key), document)
    log.info("time-lapse built", extra={"key": key, "frames": used,
                                        "skipped": document["skipped"]})
    return Result(key=key, sidecar_key=sidecar_key(key), sidecar=document)


def build_daily(
    client: Any, bucket: str, device: str, day: date, options: Options | None = None, *,
    clock: Clock, progress: Progress | None = None, time_budget_s: float | None = None,
) -> Result:
    """Build the daily video of ``device`` for local ``day`` in ``options.tz``."""
    options = options or Options()
    start, end = day_window(day, options.tz)
    return build_timelapse(client, bucket, device, start, end, options, clock=clock,
                           progress=progress, key=daily_key(device, day),
                           time_budget_s=time_budget_s)


def build_day_for_all(
    client: Any, bucket: str, day: date, options: Options | None = None, *, clock: Clock,
) -> dict[str, Result | Refusal]:
    """Every capturing camera's video of local ``day``, one after the other (the local stack's
    schedule; on AWS each camera is its own invocation). A refusal is kept, not raised."""
    options = options or Options()
    outcomes: dict[str, Result | Refusal] = {}
    for device in daily_jobs(client, bucket, day, options.tz):
        try:
            outcomes[device] = build_daily(client, bucket, device, day, options, clock=clock)
        except Refusal as refusal:
            outcomes[device] = refusal
    return outcomes


def daily_jobs(client: Any, bucket: str, day: date, tz: str) -> list[str]:
    """The cameras that captured anything on local ``day``: 1 LIST + 1 LIST per camera."""
    start, end = day_window(day, tz)
    start_ms, end_ms = to_ms(start), to_ms(end)
    devices = []
    for device in sorted(list_prefixes(client, bucket, layout.PREVIEW_PREFIX)):
        if not layout.DEVICE_ID_RE.fullmatch(device):
            continue
        prefix = f"{layout.PREVIEW_PREFIX}{device}/"
        # The newest capture before the day's end: the day has one if it is not older.
        page = list_page(client, bucket, prefix, start_after=_after(prefix, end_ms), max_keys=1)
        for key in page.keys:
            try:
                if layout.parse_key(key).captured_at_ms >= start_ms:
                    devices.append(device)
            except layout.LayoutError:
                continue
    return devices
