"""camcloud.cadence: a camera's usual interval and its active hours, the one rule for the
gallery's cameras page and the alert check. Pure: no S3, no clock but the values given."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camcloud import cadence, layout
from camcloud.errors import Refusal
from gallery import listing


def at(text: str) -> float:
    """Unix seconds of a UTC wall-clock time, ``2026-11-30T06:30``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def every(seconds: float, count: int, start: float = 1_780_000_000.0) -> list[float]:
    """``count`` capture times ``seconds`` apart."""
    return [start + i * seconds for i in range(count)]


# --- the usual interval -----------------------------------------------------------------------


def test_no_capture_and_a_single_capture_have_no_interval():
    assert cadence.usual_interval([]) is None
    assert cadence.usual_interval([1_780_000_000.0]) is None


def test_two_captures_give_their_gap_unless_more_gaps_are_required():
    assert cadence.usual_interval([100.0, 400.0]) == 300.0
    assert cadence.usual_interval([100.0, 400.0], min_gaps=3) is None


def test_bursts_between_the_rhythm_are_left_out():
    # Given a camera every 10 minutes that sends a motion burst of 3 frames 200 ms apart each time
    times = [t + frame * 0.2 for t in every(600, 6) for frame in range(3)]
    # Then its usual interval is the 10 minutes (less the burst's 0.4 s), not 0.2 s
    assert cadence.usual_interval(times) == pytest.approx(599.6)


def test_pir_bursts_merged_by_the_firmware_are_still_bursts():
    # Given an hourly camera whose PIR fired 30 times 5 s apart (the firmware's minimum gap)
    # a second after one of its hourly captures
    times = every(3600, 7) + every(5, 30, start=1_780_000_000.0 + 3601)
    # Then the rhythm is hourly: the PIR gaps say nothing of it
    assert cadence.usual_interval(times) == 3600.0


def test_a_camera_faster_than_the_burst_cutoff_has_its_own_interval_never_0_s():
    assert cadence.usual_interval(every(5, 20)) == 5.0
    assert cadence.usual_interval(every(0.2, 4)) == cadence.MIN_INTERVAL_S


def test_a_15_s_camera_keeps_its_rhythm_despite_a_night_off():
    # Regression (the alerts' old 20 s cutoff): a camera set to 15 s with two long gaps would
    # have got its "rhythm" from those long gaps alone
    times = every(15, 50) + every(15, 50, start=1_780_000_000.0 + 12 * 3600) + \
        every(15, 50, start=1_780_000_000.0 + 36 * 3600)
    assert cadence.usual_interval(times) == 15.0


def test_captures_at_the_same_instant_give_no_interval():
    assert cadence.usual_interval([5.0, 5.0, 5.0]) is None


def test_the_order_of_the_times_does_not_matter():
    times = every(300, 10)
    assert cadence.usual_interval(reversed(times)) == cadence.usual_interval(times) == 300.0


def test_imports_and_backlog_replays_are_late_and_live_captures_are_not():
    # An import of a photo taken a month ago, a replay of one taken 10 minutes ago
    now = at("2026-11-30T12:00")
    assert cadence.is_late(captured_at_s=at("2026-10-30T12:00"), received_at_s=now)
    assert cadence.is_late(captured_at_s=at("2026-11-30T11:50"), received_at_s=now)
    # A live upload (a second of transfer), one without a capture time, one from a fast clock
    assert not cadence.is_late(captured_at_s=at("2026-11-30T12:00") - 1,
                               received_at_s=at("2026-11-30T12:00"))
    assert not cadence.is_late(captured_at_s=None, received_at_s=at("2026-11-30T12:00"))
    assert not cadence.is_late(captured_at_s=at("2026-11-30T12:04"),
                               received_at_s=at("2026-11-30T12:00"))


def test_imported_captures_take_no_part_in_the_cameras_page_interval():
    # Given uploads every 10 min, then 40 photos imported whose times are a minute apart (the
    # cameras page leaves imports out before asking, as the alerts leave late samples out)
    uploads = every(600, 6)
    imported = every(60, 40, start=uploads[-1] + 60)
    assert cadence.usual_interval(uploads + imported) == 60.0  # what leaving them in would do
    assert cadence.usual_interval(uploads) == 600.0


@given(st.lists(st.floats(min_value=0, max_value=1e7), max_size=30))
def test_the_usual_interval_is_never_a_burst_gap_when_the_camera_has_a_rhythm(times):
    usual = cadence.usual_interval(times)
    ordered = sorted(times)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    if not any(gap > 0 for gap in gaps):
        assert usual is None
    else:
        assert usual is not None and usual >= cadence.MIN_INTERVAL_S
        if any(gap >= cadence.BURST_GAP_S for gap in gaps):
            assert usual >= cadence.BURST_GAP_S
        assert listing.describe_interval(usual) != "every 0 s"


def test_gaps_under_ten_seconds_are_bursts_and_from_ten_seconds_on_rhythm():
    assert cadence.BURST_GAP_S == 10.0
    assert cadence.usual_interval([0.0, 9.9, 19.8, 1000.0]) == pytest.approx(980.2)
    assert cadence.usual_interval([0.0, 10.0, 20.0, 1000.0]) == 10.0


def test_the_cameras_page_asks_the_same_rule():
    # Given captures every 10 minutes with a burst of 9 s gaps (newest first, as listed)
    now_ms = 1_780_000_000_000
    times = sorted(every(600, 6) + every(9, 4, start=1_780_000_000.0 - 3000 + 60), reverse=True)
    refs = [layout.CaptureRef.new("cam-1", int(t * 1000), f"c{i}") for i, t in enumerate(times)]
    # Then the cameras page's usual interval is cadence's
    assert listing.activity(refs, now_ms).usual_interval_s == cadence.usual_interval(times)


# --- remembering on-time captures (the alerts' bounded history) -------------------------------


def test_a_burst_counts_as_one_capture_at_its_last_frame():
    history: list[float] = []
    for t in [0.0, 600.0, 602.0, 604.0, 1204.0]:
        history = cadence.remember(history, t, keep=17)
    assert history == [0.0, 604.0, 1204.0]


def test_the_history_is_bounded_and_only_moves_forward():
    history: list[float] = []
    for t in every(60, 40, start=0.0):
        history = cadence.remember(history, t, keep=17)
    assert len(history) == 17 and history[-1] == 39 * 60.0
    assert cadence.remember(history, 0.0, keep=17) == history


def test_a_long_burst_cannot_push_the_rhythm_out_of_the_history():
    # Given an hourly camera with 3 hours of history, then 200 PIR frames 5 s apart
    history: list[float] = []
    for t in every(3600, 4, start=0.0) + every(5, 200, start=3 * 3600 + 600.0):
        history = cadence.remember(history, t, keep=17)
    # Then the rhythm is still there to learn from
    assert cadence.usual_interval(history[:-1], min_gaps=3) == 3600.0


# --- active hours -----------------------------------------------------------------------------


def test_without_active_hours_every_second_counts():
    assert cadence.active_seconds(100.0, 4000.0, None) == 3900.0
    assert cadence.active_seconds(4000.0, 100.0, None) == 0.0


def test_a_day_window_counts_only_the_day():
    # From 19:58 to 07:00 the next day, a 06:30-20:00 camera is active 2 min + 30 min
    quiet = cadence.active_seconds(at("2026-11-30T19:58"), at("2026-12-01T07:00"), "06:30-20:00")
    assert quiet == (2 + 30) * 60


def test_a_window_crossing_midnight():
    # A night camera (22:00-06:00): from 05:00 to 23:00 it is active 1 h in the morning and
    # 1 h in the evening; from 23:00 to 01:00 all 2 h
    assert cadence.active_seconds(at("2026-11-30T05:00"), at("2026-11-30T23:00"),
                                  "22:00-06:00") == 2 * 3600
    assert cadence.active_seconds(at("2026-11-30T23:00"), at("2026-12-01T01:00"),
                                  "22:00-06:00") == 2 * 3600


def test_active_hours_over_several_days():
    # Three days of silence from noon for a 06:30-20:00 camera: 3 x 13.5 h
    quiet = cadence.active_seconds(at("2026-11-30T12:00"), at("2026-12-03T12:00"), "06:30-20:00")
    assert quiet == 3 * 13.5 * 3600


def test_active_hours_are_read_in_utc_like_the_firmware_not_in_the_gallery_time_zone():
    # From 00:00 to 01:00 UTC (19:00-20:00 the evening before in New York) an 08:00-20:00
    # camera is asleep: the firmware compares the UTC minute of the day
    assert cadence.ACTIVE_HOURS_ZONE == "UTC"
    assert cadence.active_seconds(at("2026-12-01T00:00"), at("2026-12-01T01:00"),
                                  "08:00-20:00") == 0
    # ...whereas read as New York wall-clock time it would have been awake
    assert cadence.active_seconds(at("2026-12-01T00:00"), at("2026-12-01T01:00"),
                                  "08:00-20:00", "America/New_York") == 3600


def test_a_zone_with_daylight_saving_time_has_a_23_hour_day():
    # Europe/Berlin springs forward on 2026-03-29: 00:00-00:00 local that day is 23 hours
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC).timestamp() - 3600  # 00:00 CET
    end = datetime(2026, 3, 29, 22, 0, tzinfo=UTC).timestamp()  # 00:00 CEST the next day
    assert cadence.active_seconds(start, end, "00:00-23:59", "Europe/Berlin") == 23 * 3600 - 60


def test_windows_are_clipped_to_the_span():
    windows = list(cadence.active_windows(at("2026-11-30T07:00"), at("2026-12-01T07:00"),
                                          "06:30-20:00"))
    assert windows == [(at("2026-11-30T07:00"), at("2026-11-30T20:00")),
                       (at("2026-12-01T06:30"), at("2026-12-01T07:00"))]


def test_malformed_active_hours_are_refused():
    with pytest.raises(Refusal):
        cadence.active_seconds(0.0, 10.0, "25:00-06:00")


def test_quiet_time_counts_only_active_hours_and_malformed_hours_count_every_hour():
    # The one "overdue" rule of the alerts and the cameras page's stale badge
    since, now = at("2026-11-30T19:55"), at("2026-12-01T02:00")
    assert cadence.quiet_seconds(since, now, "07:00-20:00") == 5 * 60
    assert cadence.quiet_seconds(since, now, None) == now - since
    # a hand-edited record never crashes the page or the check: every hour counts
    assert cadence.quiet_seconds(since, now, "25:00-06:00") == now - since


def test_a_camera_is_active_from_its_start_minute_until_before_its_end_minute_in_utc():
    assert not cadence.is_active(at("2026-12-01T06:59"), "07:00-19:00")
    assert cadence.is_active(at("2026-12-01T07:00"), "07:00-19:00")
    assert not cadence.is_active(at("2026-12-01T19:00"), "07:00-19:00")
    assert cadence.is_active(at("2026-12-01T23:30"), "22:00-06:00")
    assert cadence.is_active(at("2026-12-01T03:00"), None)
    assert cadence.is_active(at("2026-12-01T03:00"), "25:00-06:00")  # malformed: all day


def test_active_hours_are_described_with_their_zone():
    assert cadence.describe_active_hours("07:00-19:00") == "07:00\u201319:00 UTC"
    assert cadence.describe_active_hours("bad") == "bad UTC"
