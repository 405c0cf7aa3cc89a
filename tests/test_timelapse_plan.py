"""Time-lapse planning without mocks: frame choice, thinning, deflicker, keys, schedule."""

from __future__ import annotations

import statistics
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camcloud.errors import Refusal
from camcloud.layout import CaptureRef
from camcloud.timelapse.plan import (
    MAX_GAIN,
    MIN_GAIN,
    Candidate,
    Captures,
    FrameChooser,
    Options,
    choose_frames,
    daily_key,
    day_window,
    deflicker_gains,
    due_daily_runs,
    estimate_seconds,
    range_key,
    sidecar_key,
    thin_evenly,
)

T0 = 1_763_625_600_000  # 2025-11-20T08:00:00Z


def capture(i: int, **fields: object) -> Candidate:
    """Candidate ``i`` taken i minutes after T0."""
    ref = CaptureRef.new("cam-1", T0 + i * 60_000, f"c{i}")
    values: dict[str, object] = {"sha256": f"{i:064x}", "brightness": 120.0}
    values.update(fields)
    return Candidate(ref=ref, **values)  # type: ignore[arg-type]


def test_frames_are_in_time_order_whatever_order_the_listing_gave() -> None:
    """Given captures listed newest first, when frames are chosen, then they run oldest first."""
    plan = choose_frames([capture(i) for i in reversed(range(5))], Options())

    assert [f.ref.capture_id for f in plan.frames] == ["c0", "c1", "c2", "c3", "c4"]


def test_each_skip_reason_is_counted_once() -> None:
    """Given an error, a dark frame, a repeat of the previous frame and a capture without a
    record, when frames are chosen, then each is skipped and counted under its reason."""
    candidates = [
        capture(0),
        capture(1, status="error"),
        capture(2, dark=True),
        capture(3, sha256=f"{0:064x}"),  # same bytes as c0, the previous kept frame
        capture(4, status="missing"),
        capture(5),
    ]

    plan = choose_frames(candidates, Options())

    assert [f.ref.capture_id for f in plan.frames] == ["c0", "c5"]
    assert plan.skipped == {"no_record": 1, "error": 1, "dark": 1, "duplicate": 1,
                            "thinned": 0, "unreadable": 0}
    assert plan.captures == 6


captures_st = st.lists(
    st.tuples(st.integers(0, 5), st.text("ab-1Z", min_size=1, max_size=3)),
    unique=True, max_size=30)


@given(captures=captures_st, order=st.sampled_from(["listing", "oldest", "shuffled"]),
       seed=st.integers(0, 1000))
def test_packed_captures_come_back_oldest_first_whatever_the_order(
        captures: list[tuple[int, str]], order: str, seed: int) -> None:
    """Given captures (some in the same millisecond) packed in listing order (newest first, as
    the ``previews/`` keys sort), oldest first or shuffled, when read oldest first, then they
    come by (time, id), each the CaptureRef it was packed from."""
    refs = [CaptureRef.new("cam-1", T0 + ms, capture_id) for ms, capture_id in captures]
    if order == "listing":
        refs.sort(key=lambda r: r.preview_key)
    elif order == "oldest":
        refs.sort(key=lambda r: (r.captured_at_ms, r.capture_id))
    else:
        __import__("random").Random(seed).shuffle(refs)

    packed = Captures("cam-1", refs)

    assert list(packed) == refs and len(packed) == len(refs)
    assert list(packed.oldest_first()) == sorted(refs, key=lambda r: (r.captured_at_ms,
                                                                      r.capture_id))
    if refs:
        assert packed[-1] == refs[-1] and packed.captured_at_ms(-1) == refs[-1].captured_at_ms
        assert list(packed[1:]) == refs[1:]


def test_packed_captures_are_of_one_camera() -> None:
    """Given captures of cam-1, when one of cam-2 is added, then it is refused."""
    packed = Captures("cam-1", [CaptureRef.new("cam-1", T0, "a")])

    with pytest.raises(ValueError, match="cam-2"):
        packed.append(CaptureRef.new("cam-2", T0, "b"))


def test_memory_of_a_plan_does_not_grow_by_a_record_per_capture() -> None:
    """Regression (issue 15 benchmark: peak memory +13% from 100 to 10,000 frames, the records
    kept for the whole build): given 10,000 captures decided one at a time, of which every
    tenth is dark, when the plan is made, then it keeps under 48 bytes per capture (a
    CaptureRef, a Candidate and a sha256 string were ~0.5 KB)."""
    def candidates() -> Iterator[Candidate]:
        for i in range(10_000):
            yield capture(i, dark=i % 10 == 0, brightness=100.0 + i % 7)

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        chooser = FrameChooser(Options(max_seconds=None))
        for candidate in candidates():
            chooser.add(candidate)
        plan = chooser.plan()
        del chooser
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert len(plan.frames) == 9_000 and plan.skipped["dark"] == 1_000
    assert kept < 48 * 10_000, f"{kept / 10_000:.0f} bytes per capture"
    assert plan.frames[-1].ref.capture_id == "c9999" and plan.frames[0].ref.capture_id == "c1"


def test_dark_frames_are_kept_on_request() -> None:
    """Given a dark capture, when keep_dark is set, then it is a frame."""
    plan = choose_frames([capture(0, dark=True)], Options(keep_dark=True))

    assert len(plan.frames) == 1 and plan.skipped["dark"] == 0


def test_a_repeat_after_a_different_frame_is_not_a_duplicate() -> None:
    """Given A, B, A, when frames are chosen, then all three are used (only the previous
    frame counts)."""
    plan = choose_frames([capture(0, sha256="a" * 64), capture(1, sha256="b" * 64),
                          capture(2, sha256="a" * 64)], Options())

    assert len(plan.frames) == 3


@given(count=st.integers(0, 5000), keep=st.integers(1, 2000))
def test_thinning_keeps_the_ends_and_spreads_evenly(count: int, keep: int) -> None:
    """Given any count and limit, when thinned, then min(count, keep) distinct indexes in order,
    the first and last kept, and gaps differing by at most one."""
    indexes = thin_evenly(count, keep)

    assert len(indexes) == min(count, keep)
    assert indexes == sorted(set(indexes))
    if len(indexes) > 1:
        assert indexes[0] == 0 and indexes[-1] == count - 1
        gaps = {b - a for a, b in zip(indexes, indexes[1:], strict=False)}
        assert max(gaps) - min(gaps) <= 1


def test_thinning_counts_what_it_drops() -> None:
    """Given 100 usable captures and 2 s at 10 fps, when frames are chosen, then 20 remain."""
    plan = choose_frames([capture(i) for i in range(100)], Options(fps=10, max_seconds=2))

    assert len(plan.frames) == 20 and plan.skipped["thinned"] == 80


def test_deflicker_gains_flatten_an_alternating_brightness() -> None:
    """Given brightness alternating 80/160, when gains are applied, then the spread drops."""
    brightness = [80.0 if i % 2 else 160.0 for i in range(30)]

    gains = deflicker_gains(brightness, window=7)

    corrected = [b * g for b, g in zip(brightness, gains, strict=True)]
    assert statistics.pstdev(corrected) < 0.2 * statistics.pstdev(brightness)


def test_deflicker_gains_are_bounded_and_ignore_unknown_brightness() -> None:
    """Given a near-black frame and one without brightness, when gains are computed, then the
    gain stays within bounds and the unknown frame keeps gain 1."""
    gains = deflicker_gains([150.0, 1.0, None, 150.0], window=3)

    assert all(MIN_GAIN <= g <= MAX_GAIN for g in gains)
    assert gains[2] == 1.0


def test_deflicker_off_means_gain_one() -> None:
    """Given flickering captures, when deflicker is off, then every gain is 1."""
    plan = choose_frames([capture(i, brightness=50.0 + 100 * (i % 2)) for i in range(6)],
                         Options(deflicker=False))

    assert {f.gain for f in plan.frames} == {1.0}


def test_keys_follow_the_layout() -> None:
    """Given a device, a day and a range, then the keys are docs/timelapse.md's."""
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    end = datetime(2026, 11, 20, 15, tzinfo=UTC)

    assert daily_key("cam-1", date(2026, 11, 20)) == "timelapse/cam-1/2026-11-20.mp4"
    assert range_key("cam-1", start, end, Options()) == (
        "timelapse/cam-1/range/20261120T090000Z_20261120T150000Z_default.mp4")
    assert range_key("cam-1", start, end, Options(fps=24, stamp=True, keep_dark=True)) == (
        "timelapse/cam-1/range/20261120T090000Z_20261120T150000Z_fps24-dark-stamp.mp4")
    assert sidecar_key("timelapse/cam-1/2026-11-20.mp4") == "timelapse/cam-1/2026-11-20.json"


def test_range_key_is_independent_of_the_offset_the_times_were_given_in() -> None:
    """Given one instant written in UTC and in Berlin time, then both name the same key."""
    utc = datetime(2026, 11, 20, 9, tzinfo=UTC)
    berlin = utc.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))

    assert range_key("cam-1", utc, utc + timedelta(hours=1), Options()) == range_key(
        "cam-1", berlin, berlin + timedelta(hours=1), Options())


def test_day_window_follows_daylight_saving_time() -> None:
    """Given the spring and autumn changes in Berlin, then those days last 23 and 25 hours."""
    spring = day_window(date(2026, 3, 29), "Europe/Berlin")
    autumn = day_window(date(2026, 10, 25), "Europe/Berlin")

    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)
    assert spring[0] == datetime(2026, 3, 28, 23, tzinfo=UTC)


@pytest.mark.parametrize(("values", "message"), [
    ({"fps": 0}, "fps must be 1-60"),
    ({"fps": "30"}, "wrong type"),
    ({"crf": 60}, "crf must be 0-51"),
    ({"preset": "placebo"}, "preset must be one of"),
    ({"tz": "Mars/Olympus"}, "IANA time zone"),
    ({"colour": True}, "unknown option(s): colour"),
    ({"keep_dark": "yes"}, "wrong type"),
])
def test_bad_options_are_refused_naming_the_option(values: dict[str, object],
                                                   message: str) -> None:
    """Given a bad option, when options are parsed, then a 400 refusal names it."""
    with pytest.raises(Refusal) as refused:
        Options.from_mapping(values)

    assert refused.value.status == 400 and message in refused.value.message


def test_options_from_a_form_keep_the_given_defaults() -> None:
    """Given the gallery's time zone as a default, when options come without one, it is used."""
    options = Options.from_mapping({"max_seconds": None, "stamp": True}, tz="Europe/Berlin")

    assert options.tz == "Europe/Berlin" and options.max_frames is None and options.stamp


def test_estimate_grows_with_frames_and_records() -> None:
    """Given more frames or more records to read, then the estimate is longer (it only decides
    refusals)."""
    assert estimate_seconds(10_000) > estimate_seconds(1_000) > estimate_seconds(10)
    assert estimate_seconds(1_800, records=500_000) > 15 * 60 > estimate_seconds(1_800, 8_640)


BERLIN = "Europe/Berlin"


def test_yesterday_is_due_after_the_grace_time() -> None:
    """Given the 19th built, when the clock passes 00:15 local time on the 21st, then the 20th
    is due, not before; a stack that never ran builds the last complete day."""
    built = date(2026, 11, 19)
    assert due_daily_runs(datetime(2026, 11, 20, 23, 10, tzinfo=UTC), BERLIN, built) == []
    assert due_daily_runs(datetime(2026, 11, 20, 23, 20, tzinfo=UTC), BERLIN, built) == [
        date(2026, 11, 20)]
    assert due_daily_runs(datetime(2026, 11, 20, 23, 20, tzinfo=UTC), BERLIN, None) == [
        date(2026, 11, 20)]


def test_a_day_already_built_is_not_due_again() -> None:
    """Given yesterday was built, when the schedule looks again the same day, nothing is due."""
    now = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)

    assert due_daily_runs(now, BERLIN, date(2026, 11, 20)) == []


def test_a_stack_that_was_off_catches_up_a_bounded_number_of_days() -> None:
    """Given the last run 30 days ago, when the stack starts, then the last 7 days are due,
    oldest first; after 2 days off, both days are due."""
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    assert due_daily_runs(now, BERLIN, date(2026, 10, 21)) == [
        date(2026, 11, 14) + timedelta(days=i) for i in range(7)]
    assert due_daily_runs(now, BERLIN, date(2026, 11, 18)) == [date(2026, 11, 19),
                                                                date(2026, 11, 20)]


def test_run_time_is_configurable() -> None:
    """Given a 06:00 run time, then at 05:00 local the day before yesterday is the latest due."""
    now = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)  # 05:00 in Berlin

    assert due_daily_runs(now, BERLIN, None, run_at=time(6, 0)) == [date(2026, 11, 19)]
