"""The time-lapse builder against moto's S3: seeded captures in, decodable MP4 + sidecar out."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import ImageStat

from camcloud.errors import Refusal
from camcloud.s3 import get_json, iter_keys
from camcloud.timelapse import (
    NoUsableFrames,
    Options,
    RangeTooLong,
    Result,
    build_daily,
    build_day_for_all,
    build_timelapse,
    daily_jobs,
    daily_key,
)
from camcloud.timelapse.plan import sidecar_key
from tests.conftest import BUCKET
from tests.timelapse_support import NOT_A_JPEG, decode_video, download, seed

DAY = date(2026, 11, 20)
MORNING = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BUILT_AT = datetime(2026, 11, 21, 0, 15, tzinfo=UTC)


def clock() -> datetime:
    """The injected build time."""
    return BUILT_AT


def timelapse_keys(s3: Any) -> list[str]:
    """Everything under ``timelapse/``."""
    return sorted(iter_keys(s3, BUCKET, "timelapse/"))


def test_daily_video_is_h264_with_one_frame_per_used_capture(s3: Any, tmp_path: Path) -> None:
    """Given a day of 30 captures with dark, error, repeated, unreadable and unprocessed ones,
    when its daily video is built, then the MP4 decodes as H.264 yuv420p at even dimensions with
    exactly the frames the sidecar says were used, lasting frames/30 s, and the sidecar counts
    every skip by reason."""
    for i in range(30):
        at = MORNING + timedelta(minutes=10 * i)
        if i in (3, 4, 5):
            seed(s3, BUCKET, "cam-1", at, f"c{i}", level=10)  # night: dark
        elif i in (8, 9):
            seed(s3, BUCKET, "cam-1", at, f"c{i}", status="error")
        elif i == 12:
            seed(s3, BUCKET, "cam-1", at, f"c{i}", sha256="ab" * 32)
        elif i == 13:
            seed(s3, BUCKET, "cam-1", at, f"c{i}", sha256="ab" * 32)  # same bytes again
        elif i == 20:
            seed(s3, BUCKET, "cam-1", at, f"c{i}", preview=NOT_A_JPEG)
        elif i == 25:
            seed(s3, BUCKET, "cam-1", at, f"c{i}", record=False)  # still being thumbnailed
        else:
            seed(s3, BUCKET, "cam-1", at, f"c{i}", level=100 + 3 * i, width=161, height=121)
    seed(s3, BUCKET, "cam-2", MORNING, "other")  # another camera: not in this video

    result = build_daily(s3, BUCKET, "cam-1", DAY, Options(), clock=clock)

    assert result.key == "timelapse/cam-1/2026-11-20.mp4" == daily_key("cam-1", DAY)
    video = decode_video(download(s3, BUCKET, result.key, tmp_path / "day.mp4"))
    assert video["codec"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert (video["width"], video["height"]) == (160, 120)
    assert video["frames"] == result.frames_used == 30 - 3 - 2 - 1 - 1 - 1
    assert video["duration_s"] == pytest.approx(result.frames_used / 30, abs=0.05)
    sidecar = get_json(s3, BUCKET, "timelapse/cam-1/2026-11-20.json")
    assert sidecar == result.sidecar
    assert sidecar["skipped"] == {"no_record": 1, "error": 2, "dark": 3, "duplicate": 1,
                                  "thinned": 0, "unreadable": 1}
    assert sidecar["captures"] == 30
    assert sidecar["settings"]["fps"] == 30 and sidecar["settings"]["crf"] == 23
    assert sidecar["built_at"] == "2026-11-21T00:15:00+00:00"
    assert timelapse_keys(s3) == ["timelapse/cam-1/2026-11-20.json",
                                  "timelapse/cam-1/2026-11-20.mp4"]


def test_keep_dark_includes_the_night(s3: Any) -> None:
    """Given a day with dark frames, when built with keep_dark, then they are frames too."""
    for i in range(6):
        seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=i), f"c{i}",
             level=10 if i < 3 else 150)

    result = build_daily(s3, BUCKET, "cam-1", DAY, Options(keep_dark=True), clock=clock)

    assert result.frames_used == 6 and result.skipped["dark"] == 0


def test_long_day_is_thinned_evenly_to_the_maximum_length(s3: Any, tmp_path: Path) -> None:
    """Given 50 captures, when built with at most 1 s at 10 fps, then the video has 10 frames,
    the first and the last capture among them, and 40 are counted as thinned."""
    for i in range(50):
        seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=i), f"c{i}", level=60 + 3 * i)

    result = build_daily(s3, BUCKET, "cam-1", DAY, Options(fps=10, max_seconds=1.0),
                         clock=clock)

    video = decode_video(download(s3, BUCKET, result.key, tmp_path / "thin.mp4"))
    assert video["frames"] == result.frames_used == 10
    assert video["duration_s"] == pytest.approx(1.0, abs=0.15)
    assert result.skipped["thinned"] == 40
    assert result.sidecar["first_capture_ms"] == int(MORNING.timestamp() * 1000)
    assert result.sidecar["last_capture_ms"] == int(
        (MORNING + timedelta(minutes=49)).timestamp() * 1000)


def test_deflicker_evens_out_brightness_across_frames(s3: Any, tmp_path: Path) -> None:
    """Given captures whose brightness flickers between 90 and 170, when built with and
    without deflicker, then the frames' brightness spread drops with deflicker."""
    for i in range(24):
        seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=i), f"c{i}",
             level=90 if i % 2 else 170)
    start, end = MORNING, MORNING + timedelta(hours=1)

    flicker = build_timelapse(s3, BUCKET, "cam-1", start, end, Options(deflicker=False),
                              clock=clock)
    even = build_timelapse(s3, BUCKET, "cam-1", start, end, Options(deflicker=True),
                           clock=clock)

    assert flicker.key != even.key  # the settings are part of a range's key
    raw = decode_video(download(s3, BUCKET, flicker.key, tmp_path / "raw.mp4"))["lumas"]
    smooth = decode_video(download(s3, BUCKET, even.key, tmp_path / "even.mp4"))["lumas"]
    assert statistics.pstdev(smooth) < 0.35 * statistics.pstdev(raw)


def test_date_stamp_is_burned_into_the_lower_left_corner(s3: Any, tmp_path: Path) -> None:
    """Given bright grey captures, when built with a stamp, then the lower-left corner of the
    frame changes (a dark box with text) and the top right does not."""
    for i in range(3):
        seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=i), f"c{i}", level=200,
             width=320, height=240)
    start, end = MORNING, MORNING + timedelta(hours=1)

    plain = build_timelapse(s3, BUCKET, "cam-1", start, end, Options(deflicker=False),
                            clock=clock)
    stamped = build_timelapse(s3, BUCKET, "cam-1", start, end,
                              Options(deflicker=False, stamp=True, tz="Europe/Berlin"),
                              clock=clock)

    def first_frame(key: str, name: str) -> Any:
        import av

        with av.open(str(download(s3, BUCKET, key, tmp_path / name))) as container:
            return next(container.decode(video=0)).to_image().convert("L")  # type: ignore[no-untyped-call]

    a, b = first_frame(plain.key, "a.mp4"), first_frame(stamped.key, "b.mp4")
    corner = (0, 200, 120, 240)
    top_right = (220, 0, 320, 40)
    def mean(image: Any, box: tuple[int, int, int, int]) -> float:
        return float(ImageStat.Stat(image.crop(box)).mean[0])
    assert mean(b, corner) < mean(a, corner) - 40
    assert mean(b, top_right) == pytest.approx(mean(a, top_right), abs=3)


def test_previews_of_another_size_are_letterboxed_to_the_first(s3: Any, tmp_path: Path) -> None:
    """Given a camera switched from 4:3 to 16:9 during the day, when built, then every frame
    has the first capture's size."""
    seed(s3, BUCKET, "cam-1", MORNING, "a", width=160, height=120)
    seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=1), "b", width=320, height=180)

    result = build_daily(s3, BUCKET, "cam-1", DAY, clock=clock)

    video = decode_video(download(s3, BUCKET, result.key, tmp_path / "mixed.mp4"))
    assert (video["width"], video["height"], video["frames"]) == (160, 120, 2)


def test_range_takes_captures_from_start_up_to_but_not_including_end(s3: Any) -> None:
    """Given captures before, at the start of, inside, at the end of and after a range, when it
    is built, then only those from the start (inclusive) to the end (exclusive) are used."""
    start, end = MORNING, MORNING + timedelta(hours=1)
    for name, at in {"before": start - timedelta(milliseconds=1), "at-start": start,
                     "inside": start + timedelta(minutes=30),
                     "last": end - timedelta(milliseconds=1), "at-end": end,
                     "after": end + timedelta(minutes=1)}.items():
        seed(s3, BUCKET, "cam-1", at, name, level=120)

    result = build_timelapse(s3, BUCKET, "cam-1", start, end, clock=clock)

    assert result.sidecar["captures"] == 3 == result.frames_used
    assert result.sidecar["first_capture_ms"] == int(start.timestamp() * 1000)
    assert result.sidecar["last_capture_ms"] == int(end.timestamp() * 1000) - 1
    assert result.key == ("timelapse/cam-1/range/20261120T080000Z_20261120T090000Z_default.mp4")


def test_range_of_only_dark_frames_answers_clearly_and_writes_nothing(s3: Any) -> None:
    """Given a night of dark captures, when its video is built, then a refusal names the count
    and the reason (and how to keep dark frames), and nothing is written."""
    for i in range(4):
        seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=i), f"c{i}", level=5)

    with pytest.raises(NoUsableFrames) as refused:
        build_daily(s3, BUCKET, "cam-1", DAY, clock=clock)

    assert refused.value.status == 422 and refused.value.code == "no_usable_frames"
    assert "4 capture(s), skipped 4 dark" in refused.value.message
    assert "keep-dark" in refused.value.message
    assert timelapse_keys(s3) == []


def test_range_without_captures_answers_clearly_and_writes_nothing(s3: Any) -> None:
    """Given a camera with no capture that day, when its video is built, then it is refused."""
    with pytest.raises(NoUsableFrames, match="0 capture"):
        build_daily(s3, BUCKET, "cam-1", DAY, clock=clock)
    assert timelapse_keys(s3) == []


def test_only_unreadable_previews_answers_clearly_and_writes_nothing(s3: Any,
                                                                     tmp_path: Path) -> None:
    """Given captures whose previews are all corrupt, when built, then it is refused, counted
    as unreadable, no temporary file is left behind and nothing is written."""
    for i in range(3):
        seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=i), f"c{i}", preview=NOT_A_JPEG)

    with pytest.raises(NoUsableFrames, match="3 unreadable"):
        build_timelapse(s3, BUCKET, "cam-1", MORNING, MORNING + timedelta(hours=1),
                        clock=clock, tmp_dir=str(tmp_path))

    assert timelapse_keys(s3) == [] and list(tmp_path.iterdir()) == []


def test_build_interrupted_halfway_leaves_no_object_at_the_final_key(s3: Any,
                                                                     tmp_path: Path) -> None:
    """Given a day of 40 captures and an S3 connection that breaks after 20 preview GETs, when
    the build fails halfway, then neither the video nor the sidecar exists, and no temporary
    file is left."""
    for i in range(40):
        seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=i), f"c{i}", level=100 + i)
    gets = {"previews": 0}

    def break_connection(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith("previews/"):
            gets["previews"] += 1
            if gets["previews"] > 20:
                raise ConnectionResetError("connection reset by peer")

    s3.meta.events.register("before-parameter-build.s3.GetObject", break_connection)

    with pytest.raises(ConnectionResetError):
        build_daily(s3, BUCKET, "cam-1", DAY, clock=clock)
    s3.meta.events.unregister("before-parameter-build.s3.GetObject", break_connection)

    assert timelapse_keys(s3) == []
    assert list(Path(__import__("tempfile").gettempdir()).glob("timelapse-*")) == []


def test_progress_reports_every_frame_of_the_plan(s3: Any) -> None:
    """Given 5 captures, when built with a progress callback, then it sees 1..5 of 5."""
    for i in range(5):
        seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=i), f"c{i}")
    seen: list[tuple[int, int]] = []

    build_daily(s3, BUCKET, "cam-1", DAY, clock=clock,
                progress=lambda done, total: seen.append((done, total)))

    assert seen == [(i, 5) for i in range(1, 6)]


def test_range_too_long_for_the_time_left_is_refused_before_reading_anything(s3: Any) -> None:
    """Given 40 captures and 2 s left in the invocation, when built, then a refusal names the
    15-minute limit and the way out, and neither a record nor a preview was fetched."""
    for i in range(40):
        seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=i), f"c{i}")
    fetched: list[str] = []
    s3.meta.events.register("before-parameter-build.s3.GetObject",
                            lambda params, **_: fetched.append(params["Key"]))

    with pytest.raises(RangeTooLong) as refused:
        build_daily(s3, BUCKET, "cam-1", DAY, clock=clock, time_budget_s=2.0)

    assert refused.value.code == "range_too_long"
    assert "15 minutes" in refused.value.message
    assert "camcloud timelapse build" in refused.value.message
    assert fetched == []
    assert timelapse_keys(s3) == []


def test_daily_jobs_lists_the_cameras_that_captured_that_day(s3: Any) -> None:
    """Given a camera that captured on the day, one only the day after, one only the day before
    and one at 23:59 local time (Berlin), when the day's jobs are listed, then they are the
    first and the last."""
    seed(s3, BUCKET, "yard", datetime(2026, 11, 20, 12, 0, tzinfo=UTC), "a")
    seed(s3, BUCKET, "yard", datetime(2026, 11, 21, 12, 0, tzinfo=UTC), "b")
    seed(s3, BUCKET, "tomorrow", datetime(2026, 11, 20, 23, 30, tzinfo=UTC), "c")  # 00:30 CET
    seed(s3, BUCKET, "yesterday", datetime(2026, 11, 19, 22, 59, tzinfo=UTC), "d")  # 23:59 CET
    seed(s3, BUCKET, "late", datetime(2026, 11, 20, 22, 59, tzinfo=UTC), "e")  # 23:59 CET

    assert daily_jobs(s3, BUCKET, DAY, "Europe/Berlin") == ["late", "yard"]


def test_rebuilding_a_day_overwrites_its_video_and_sidecar(s3: Any) -> None:
    """Given a day built once, when captures arrive late and it is rebuilt, then the same two
    keys describe the new video (a redelivered schedule never duplicates)."""
    seed(s3, BUCKET, "cam-1", MORNING, "a")
    build_daily(s3, BUCKET, "cam-1", DAY, clock=clock)
    seed(s3, BUCKET, "cam-1", MORNING + timedelta(hours=1), "b")

    result = build_daily(s3, BUCKET, "cam-1", DAY, clock=clock)

    assert result.frames_used == 2
    assert timelapse_keys(s3) == ["timelapse/cam-1/2026-11-20.json",
                                  "timelapse/cam-1/2026-11-20.mp4"]
    assert sidecar_key(result.key) == result.sidecar_key


def test_local_schedule_builds_every_capturing_camera_and_keeps_refusals(s3: Any) -> None:
    """Given one camera with daylight captures and one with only dark ones that day, when the
    day is built for all, then the first has a video and the second's refusal is reported."""
    seed(s3, BUCKET, "cam-1", MORNING, "a")
    seed(s3, BUCKET, "night-cam", MORNING, "b", level=5)

    outcomes = build_day_for_all(s3, BUCKET, DAY, clock=clock)

    assert sorted(outcomes) == ["cam-1", "night-cam"]
    assert isinstance(outcomes["cam-1"], Result) and outcomes["cam-1"].frames_used == 1
    assert isinstance(outcomes["night-cam"], NoUsableFrames)
    assert timelapse_keys(s3) == ["timelapse/cam-1/2026-11-20.json",
                                  "timelapse/cam-1/2026-11-20.mp4"]


def test_full_range_jpeg_luma_is_not_shown_too_contrasty(s3: Any, tmp_path: Path) -> None:
    """Regression: JPEG luma is full range and H.264 is played as limited range; unconverted, a
    grey-200 preview played back as 214. Given grey previews, when built without deflicker,
    then the frames decode to the previews' brightness."""
    for i, level in enumerate((60, 200)):
        seed(s3, BUCKET, "cam-1", MORNING + timedelta(minutes=i), f"c{i}", level=level,
             width=320, height=240)

    result = build_daily(s3, BUCKET, "cam-1", DAY, Options(deflicker=False), clock=clock)

    lumas = decode_video(download(s3, BUCKET, result.key, tmp_path / "grey.mp4"))["lumas"]
    assert lumas == [pytest.approx(60, abs=2.5), pytest.approx(200, abs=2.5)]


@pytest.mark.parametrize(("device", "start", "end", "code"), [
    ("Cam One", MORNING, MORNING + timedelta(hours=1), "bad_device"),
    ("cam-1", MORNING, MORNING, "bad_range"),
    ("cam-1", MORNING, MORNING - timedelta(hours=1), "bad_range"),
])
def test_bad_request_is_refused_naming_the_problem(s3: Any, device: str, start: datetime,
                                                   end: datetime, code: str) -> None:
    """Given a bad device id or an empty range, when built, then a 400 refusal says which."""
    with pytest.raises(Refusal) as refused:
        build_timelapse(s3, BUCKET, device, start, end, clock=clock)

    assert refused.value.status == 400 and refused.value.code == code
    assert timelapse_keys(s3) == []
