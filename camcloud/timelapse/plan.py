"""Time-lapse planning, pure: options, frame choice, deflicker gains, keys, sidecar, schedule.

Nothing here touches S3, Pillow or PyAV, so every decision the builder makes (which frames, in
which order, with which gain, under which key, on which day) is tested without mocks.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from camcloud.errors import Refusal
from camcloud.layout import CaptureRef, check_device_id, rev_from_ms

TIMELAPSE_PREFIX = "timelapse/"
BUILDER = "camcloud-timelapse/1"
SIDECAR_SCHEMA = 1
# Skip reasons, in the order a capture is tested against them.
SKIP_REASONS = ("no_record", "error", "dark", "duplicate", "thinned", "unreadable")
# Lambda stops an invocation at 15 minutes; the build must also list, upload and write.
LAMBDA_LIMIT_S = 15 * 60
# Frames/s assumed for one Lambda arm64 vCPU at preview size (1024x768, preset veryfast): the
# builder spends ~33 ms of CPU per noisy 1024x768 frame on the x86 host of bench/timelapse.py
# (~30 frames/s); halved for Graviton and noise. Used only to refuse, before any preview is
# fetched, a range that could not finish in time.
ESTIMATED_FRAMES_PER_SECOND = 15.0
# Record GETs per second through the pool (8 in flight at ~40 ms each, halved for safety).
ESTIMATED_RECORDS_PER_SECOND = 100.0
CODECS = {"libx264": "mp4"}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
_RANGE_STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Options:
    """How a time-lapse is made; the defaults are what the daily schedule uses."""

    fps: int = 30
    crf: int = 23
    preset: str = "veryfast"
    # Thin evenly to at most this many seconds of video (None: every usable frame).
    max_seconds: float | None = 60.0
    keep_dark: bool = False
    deflicker: bool = True
    deflicker_window: int = 15
    stamp: bool = False
    tz: str = "UTC"
    codec: str = "libx264"

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.fps <= 60:
            problems.append(f"fps must be 1-60, not {self.fps}")
        if not 0 <= self.crf <= 51:
            problems.append(f"crf must be 0-51, not {self.crf}")
        if self.preset not in PRESETS:
            problems.append(f"preset must be one of {', '.join(PRESETS)}, not {self.preset!r}")
        if self.max_seconds is not None and not 1 <= self.max_seconds <= 3600:
            problems.append(f"max_seconds must be 1-3600, not {self.max_seconds}")
        if not 1 <= self.deflicker_window <= 301:
            problems.append(f"deflicker_window must be 1-301, not {self.deflicker_window}")
        if self.codec not in CODECS:
            problems.append(f"codec must be one of {', '.join(CODECS)}, not {self.codec!r}")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"tz must be an IANA time zone such as Europe/Berlin, not {self.tz!r}")
        if problems:
            raise Refusal(400, "bad_options", "; ".join(problems))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], **defaults: Any) -> Options:
        """Options from a JSON object (a Lambda event, a form); unknown or bad fields refused."""
        if not isinstance(values, Mapping):
            raise Refusal(400, "bad_options", "options must be a JSON object")
        known = {name: spec for name, spec in cls.__dataclass_fields__.items()}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise Refusal(400, "bad_options", f"unknown option(s): {', '.join(unknown)}")
        merged = {**defaults, **values}
        for name, value in merged.items():
            default = getattr(cls, name)
            ok = (
                (isinstance(default, bool) and isinstance(value, bool))
                or (isinstance(default, int) and not isinstance(default, bool)
                    and isinstance(value, int) and not isinstance(value, bool))
                or (isinstance(default, str) and isinstance(value, str))
                or (name == "max_seconds" and (value is None or (
                    isinstance(value, int | float) and not isinstance(value, bool))))
            )
            if not ok:
                raise Refusal(400, "bad_options", f"option {name} has the wrong type: {value!r}")
        return cls(**merged)

    @property
    def max_frames(self) -> int | None:
        """The most frames the video may have (``max_seconds`` at ``fps``)."""
        return None if self.max_seconds is None else max(1, int(self.max_seconds * self.fps))

    @property
    def container(self) -> str:
        """The file format the codec is written in (``mp4``)."""
        return CODECS[self.codec]

    def params(self) -> str:
        """A short, stable name for the settings that differ from the defaults (range keys)."""
        default = Options()
        parts = []
        for name in ("fps", "crf", "preset", "max_seconds", "deflicker_window", "codec"):
            value = getattr(self, name)
            if value != getattr(default, name):
                shown = "all" if value is None else re.sub(r"[^A-Za-z0-9]", "", str(value))
                parts.append(f"{name.replace('_', '')}{shown}")
        if self.keep_dark:
            parts.append("dark")
        if not self.deflicker:
            parts.append("nodeflicker")
        if self.stamp:
            parts.append("stamp")
        if self.stamp and self.tz != default.tz:
            parts.append("tz" + re.sub(r"[^A-Za-z0-9]", "", self.tz))
        return "-".join(parts) or "default"


class Captures(Sequence[CaptureRef]):
    """One camera's captures, packed: 8 bytes of capture time and the id's characters each.

    A day at one capture every 10 s is 8,640 captures, held for the whole build: as CaptureRef
    objects (three strings each) they cost ~0.3 KB a capture and fragment the heap they share
    with the records parsed meanwhile; packed, ~25 bytes. A CaptureRef is made when asked for.
    """

    __slots__ = ("device", "_ends", "_ids", "_ms")

    def __init__(self, device: str | None = None, refs: Iterable[CaptureRef] = ()) -> None:
        # No device yet: the first capture added names it.
        self.device = "" if device is None else check_device_id(device)
        self._ms = array("q")
        self._ids = bytearray()
        self._ends = array("I")
        for ref in refs:
            self.append(ref)

    def append(self, ref: CaptureRef) -> None:
        """Add ``ref`` (a capture of this camera) at the end."""
        if not self.device:
            self.device = ref.device
        elif ref.device != self.device:
            raise ValueError(f"a capture of {ref.device} among {self.device}'s")
        self._ms.append(ref.captured_at_ms)
        self._ids += ref.capture_id.encode("ascii")  # capture ids are ASCII by the layout
        self._ends.append(len(self._ids))

    def __len__(self) -> int:
        return len(self._ms)

    @overload
    def __getitem__(self, index: int) -> CaptureRef: ...

    @overload
    def __getitem__(self, index: slice) -> Captures: ...

    def __getitem__(self, index: int | slice) -> CaptureRef | Captures:
        if isinstance(index, slice):
            part = Captures(self.device or None)
            for i in range(*index.indices(len(self))):
                part.append(self[i])
            return part
        return CaptureRef(rev=rev_from_ms(self._ms[index]), device=self.device,
                          capture_id=self.capture_id(index))

    def captured_at_ms(self, index: int) -> int:
        """Capture time of the ``index``-th capture, without making its CaptureRef."""
        return self._ms[index]

    def capture_id(self, index: int) -> str:
        """Capture id of the ``index``-th capture."""
        index = range(len(self._ms))[index]  # a negative index counts from the end
        start = self._ends[index - 1] if index else 0
        return self._ids[start:self._ends[index]].decode("ascii")

    def oldest_first(self) -> Iterator[CaptureRef]:
        """The captures by (time, id), without a sorted copy when they come newest first (the
        order of a ``previews/`` listing) or oldest first."""
        ms = self._ms
        count = len(ms)
        runs: Iterable[int]
        if all(ms[i] <= ms[i + 1] for i in range(count - 1)):
            runs = range(count)
        elif all(ms[i] >= ms[i + 1] for i in range(count - 1)):
            runs = range(count - 1, -1, -1)
        else:
            for i in sorted(range(count), key=lambda i: (ms[i], self.capture_id(i))):
                yield self[i]
            return
        # Captures of the same millisecond (rare) are put in id order among themselves.
        run: list[int] = []
        for i in runs:
            if run and ms[run[0]] != ms[i]:
                yield from (self[j] for j in sorted(run, key=self.capture_id))
                run = []
            run.append(i)
        yield from (self[j] for j in sorted(run, key=self.capture_id))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One capture of the range as its record describes it (compact: no image, no record)."""

    ref: CaptureRef
    status: str = "ok"  # "ok" | "error" | "missing" (preview listed, record not written yet)
    sha256: str | None = None
    dark: bool = False
    brightness: float | None = None

    @property
    def captured_at_ms(self) -> int:
        """Capture time in Unix milliseconds."""
        return self.ref.captured_at_ms

    @classmethod
    def from_record(cls, ref: CaptureRef, record: Mapping[str, Any] | None) -> Candidate:
        """The candidate of ``ref`` from its metadata record (None: no record yet)."""
        if not isinstance(record, Mapping):
            return cls(ref=ref, status="missing")
        quality = record.get("quality")
        quality = quality if isinstance(quality, Mapping) else {}
        brightness = quality.get("brightness")
        sha256 = record.get("sha256")
        return cls(
            ref=ref,
            status="error" if record.get("status") == "error" else "ok",
            sha256=sha256 if isinstance(sha256, str) else None,
            dark=quality.get("dark") is True,
            brightness=float(brightness) if isinstance(brightness, int | float)
            and not isinstance(brightness, bool) else None,
        )


@dataclass(frozen=True, slots=True)
class Frame:
    """A capture chosen for the video, with the brightness gain deflicker applies to it."""

    ref: CaptureRef
    gain: float = 1.0

    @property
    def captured_at_ms(self) -> int:
        """Capture time in Unix milliseconds."""
        return self.ref.captured_at_ms


class Frames(Sequence[Frame]):
    """The frames of a plan, made one at a time from the packed captures and gains."""

    __slots__ = ("_captures", "_gains")

    def __init__(self, captures: Captures, gains: Sequence[float]) -> None:
        if len(captures) != len(gains):
            raise ValueError("one gain per capture")
        self._captures = captures
        self._gains = gains

    def __len__(self) -> int:
        return len(self._captures)

    @overload
    def __getitem__(self, index: int) -> Frame: ...

    @overload
    def __getitem__(self, index: slice) -> list[Frame]: ...

    def __getitem__(self, index: int | slice) -> Frame | list[Frame]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Frame(self._captures[index], self._gains[index])


@dataclass
class Plan:
    """The frames of a video in time order and how many captures were skipped, by reason.

    What the sidecar says of the frames is counts (captures, frames, skips by reason, first and
    last capture): per-frame lists would grow with the range.
    """

    chosen: Captures
    gains: Sequence[float]
    captures: int
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))

    @property
    def frames(self) -> Frames:
        """The frames in time order, each made when it is reached."""
        return Frames(self.chosen, self.gains)


def thin_evenly(count: int, keep: int) -> list[int]:
    """Indexes of ``keep`` of ``count`` items spread evenly, first and last always kept."""
    if keep >= count:
        return list(range(count))
    if keep <= 0:
        return []
    if keep == 1:
        return [0]
    step = (count - 1) / (keep - 1)
    return [round(i * step) for i in range(keep)]


def moving_average(values: Sequence[float], window: int) -> array[float]:
    """Centred moving average of ``values``; the window shrinks at both ends."""
    half = window // 2
    prefix = array("d", [0.0])
    for value in values:
        prefix.append(prefix[-1] + value)
    averages = array("d")
    for i in range(len(values)):
        lo, hi = max(0, i - half), min(len(values), i + half + 1)
        averages.append((prefix[hi] - prefix[lo]) / (hi - lo))
    return averages


# A gain outside this range would amplify noise or crush a frame that is meant to be bright.
MIN_GAIN, MAX_GAIN = 0.5, 2.0


def deflicker_gains(brightness: Sequence[float | None], window: int) -> array[float]:
    """Per-frame gains that bring each frame's brightness to its neighbourhood's average.

    A frame whose record has no brightness (None or NaN) keeps gain 1 and does not count in
    the averages.
    """
    known = array("I")
    values = array("d")
    for i, b in enumerate(brightness):
        if b is not None and b > 0:  # NaN > 0 is False
            known.append(i)
            values.append(b)
    gains = array("d", [1.0]) * len(brightness)
    for i, value, average in zip(known, values, moving_average(values, window), strict=True):
        gains[i] = min(MAX_GAIN, max(MIN_GAIN, average / value))
    return gains


class FrameChooser:
    """Frame choice one capture at a time, oldest first: errors, dark frames and repeats are
    counted and forgotten, so only the usable captures are kept (packed) until the end."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.captures = 0
        self.skipped = dict.fromkeys(SKIP_REASONS, 0)
        self._kept = Captures()
        self._brightness = array("d")  # NaN: the record has none
        self._previous_sha: str | None = None

    def add(self, candidate: Candidate) -> None:
        """Decide ``candidate``, the capture after the previous one in time."""
        self.captures += 1
        if candidate.status == "missing":
            self.skipped["no_record"] += 1
        elif candidate.status == "error":
            self.skipped["error"] += 1
        elif candidate.dark and not self.options.keep_dark:
            self.skipped["dark"] += 1
        elif candidate.sha256 is not None and candidate.sha256 == self._previous_sha:
            self.skipped["duplicate"] += 1
        else:
            self._kept.append(candidate.ref)
            self._brightness.append(math.nan if candidate.brightness is None
                                    else candidate.brightness)
            self._previous_sha = candidate.sha256

    def plan(self) -> Plan:
        """The chosen frames: the kept captures thinned evenly to the maximum length, with
        deflicker gains."""
        kept = self._kept
        brightness = self._brightness
        limit = self.options.max_frames
        skipped = dict(self.skipped)
        if limit is not None and len(kept) > limit:
            indexes = thin_evenly(len(kept), limit)
            skipped["thinned"] = len(kept) - len(indexes)
            thinned = Captures(kept.device)
            for i in indexes:
                thinned.append(kept[i])
            kept = thinned
            brightness = array("d", (brightness[i] for i in indexes))
        gains: Sequence[float] = (
            array("d", (round(g, 4) for g in deflicker_gains(brightness,
                                                             self.options.deflicker_window)))
            if self.options.deflicker else array("d", [1.0]) * len(kept))
        return Plan(chosen=kept, gains=gains, captures=self.captures, skipped=skipped)


def choose_frames(candidates: Iterable[Candidate], options: Options) -> Plan:
    """The frames of the video: records in time order, errors, dark and repeats skipped,
    thinned evenly to the maximum length, with deflicker gains."""
    chooser = FrameChooser(options)
    for candidate in sorted(candidates, key=lambda c: (c.captured_at_ms, c.ref.capture_id)):
        chooser.add(candidate)
    return chooser.plan()


def describe_skips(skipped: Mapping[str, int]) -> str:
    """``"12 dark, 3 error"``: the non-zero skip counts, for messages."""
    return ", ".join(f"{n} {reason}" for reason, n in skipped.items() if n) or "none"


class NoUsableFrames(Refusal):
    """The range has no frame to make a video of; nothing is written."""

    def __init__(self, device: str, start: datetime, end: datetime, plan: Plan) -> None:
        hint = " (keep_dark / --keep-dark includes dark frames)" if plan.skipped["dark"] else ""
        super().__init__(
            422, "no_usable_frames",
            f"no usable frames for {device} from {start.isoformat()} to {end.isoformat()}: "
            f"{plan.captures} capture(s), skipped {describe_skips(plan.skipped)}{hint}",
        )
        self.plan = plan


class RangeTooLong(Refusal):
    """The build would not finish within the time the invocation has left."""

    def __init__(self, captures: int, frames: int, seconds: float, budget_s: float) -> None:
        super().__init__(
            413, "range_too_long",
            f"{captures} captures and up to {frames} frames need about {seconds / 60:.1f} min "
            f"to read and encode, but this build may "
            f"take {budget_s / 60:.1f} min (an AWS Lambda invocation stops at "
            f"{LAMBDA_LIMIT_S // 60} minutes): choose a shorter range or a lower max_seconds, "
            "or run `camcloud timelapse build`, which has no time limit",
        )


def estimate_seconds(frames: int, records: int = 0) -> float:
    """How long a build takes: ``records`` record GETs still to make, ``frames`` frames to
    encode, plus a fixed allowance for the listing and the upload."""
    return 10.0 + records / ESTIMATED_RECORDS_PER_SECOND + frames / ESTIMATED_FRAMES_PER_SECOND


def zone(tz: str) -> ZoneInfo:
    """The IANA time zone ``tz``; a bad name is a 400 refusal."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refusal(400, "bad_timezone", f"unknown time zone {tz!r}") from None


def day_window(day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC start (inclusive) and end (exclusive) of local ``day`` in ``tz`` (23-25 hours)."""
    local = zone(tz)
    start = datetime.combine(day, time(0), local)
    end = datetime.combine(day + timedelta(days=1), time(0), local)
    return start.astimezone(UTC), end.astimezone(UTC)


def to_ms(moment: datetime) -> int:
    """Unix milliseconds of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("time-lapse times must carry a time zone")
    return math.floor(moment.timestamp() * 1000)


def daily_key(device: str, day: date) -> str:
    """Where the daily video of ``device`` for local ``day`` lives."""
    return f"{TIMELAPSE_PREFIX}{check_device_id(device)}/{day.isoformat()}.mp4"


def range_key(device: str, start: datetime, end: datetime, options: Options) -> str:
    """Where an on-demand range lives: the same request always lands on the same key."""
    since = start.astimezone(UTC).strftime(_RANGE_STAMP)
    until = end.astimezone(UTC).strftime(_RANGE_STAMP)
    return (f"{TIMELAPSE_PREFIX}{check_device_id(device)}/range/"
            f"{since}_{until}_{options.params()}.{options.container}")


def sidecar_key(video_key: str) -> str:
    """The ``.json`` beside a video: written last, so it promises a complete video."""
    stem, _, _ = video_key.rpartition(".")
    return f"{stem}.json"


def sidecar(
    *,
    device: str,
    key: str,
    start: datetime,
    end: datetime,
    options: Options,
    plan: Plan,
    frames_used: int,
    unreadable: int,
    width: int,
    height: int,
    size: int,
    built_at: datetime,
    elapsed_s: float,
) -> dict[str, Any]:
    """The sidecar document: what the video shows, what was skipped and why, and how."""
    skipped = dict(plan.skipped)
    skipped["unreadable"] = unreadable
    return {
        "schema": SIDECAR_SCHEMA,
        "builder": BUILDER,
        "device": device,
        "key": key,
        "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(),
        "captures": plan.captures,
        "frames_used": frames_used,
        "skipped": skipped,
        "first_capture_ms": plan.chosen.captured_at_ms(0) if plan.chosen else None,
        "last_capture_ms": plan.chosen.captured_at_ms(-1) if plan.chosen else None,
        "settings": asdict(options),
        "width": width,
        "height": height,
        "duration_s": round(frames_used / options.fps, 3),
        "bytes": size,
        "built_at": built_at.astimezone(UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed_s, 3),
    }


def due_daily_runs(
    now: datetime,
    tz: str,
    last_run: date | None,
    *,
    run_at: time = time(0, 15),
    catch_up_days: int = 7,
) -> list[date]:
    """Local days whose daily video is due at ``now``, oldest first.

    A day is due once it is over and ``run_at`` (a grace for late uploads) has passed on the
    next day; ``last_run`` is the last day already built. A stack that was off for a while
    catches up at most ``catch_up_days`` days.
    """
    local_now = now.astimezone(zone(tz))
    latest = local_now.date() - timedelta(days=1)
    if local_now.time() < run_at:
        latest -= timedelta(days=1)
    first = latest if last_run is None else last_run + timedelta(days=1)
    first = max(first, latest - timedelta(days=catch_up_days - 1))
    days = []
    day = first
    while day <= latest:
        days.append(day)
        day += timedelta(days=1)
    return days
