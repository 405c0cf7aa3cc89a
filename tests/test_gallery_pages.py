"""The gallery's rough edges a newcomer met (issue 14, item 8), and the delete's wording."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from camcloud import device_state
from camcloud.devices import DeviceRegistry
from gallery import create_app, listing
from tests.test_gallery import NOW_MS, log_in, put_capture

MINUTE_MS = 60_000


def put_import(s3: Any, bucket: str, device: str, captured_ms: int, capture_id: str,
               clock: str = "file") -> Any:
    """Store a capture as ``camcloud import`` does: its time from the file (or EXIF)."""
    ref = put_capture(s3, bucket, device, captured_ms, capture_id, telemetry={})
    record = json.loads(s3.get_object(Bucket=bucket, Key=ref.meta_key)["Body"].read())
    record.update(clock=clock, telemetry={})
    s3.put_object(Bucket=bucket, Key=ref.meta_key, Body=json.dumps(record).encode())
    return ref


def card(page: str, device: str) -> str:
    """The cameras page's card of ``device``."""
    return dict(re.findall(r'data-device="([^"]+)">(.*?)</li>', page, re.S))[device]


def fact(card_html: str, name: str) -> str:
    """The value of one fact (``<dt>name</dt><dd>value</dd>``) on a card, without markup."""
    value = re.search(rf"<dt[^>]*>{name}</dt><dd[^>]*>(.*?)</dd>", card_html, re.S).group(1)
    return re.sub(r"<[^>]+>", "", value).strip()


def title(page: str) -> str:
    """The page's <title>."""
    return re.search(r"<title>(.*?)</title>", page, re.S).group(1)


# --- no camera, no page -----------------------------------------------------------------------

def test_a_camera_that_does_not_exist_is_not_found(logged_in):
    # Given no camera "nosuch" / When its page or its live view is opened / Then 404
    assert logged_in.get("/camera/nosuch").status_code == 404
    assert logged_in.get("/camera/nosuch/live").status_code == 404


def test_a_registered_camera_without_captures_has_an_empty_page(logged_in, registry):
    # Given a camera registered a moment ago that has not uploaded yet
    registry.add("new-cam", name="Bird feeder")
    # When its page and live view are opened
    page = logged_in.get("/camera/new-cam")
    live = logged_in.get("/camera/new-cam/live")
    # Then both exist and say there is nothing yet, under the camera's name
    assert page.status_code == 200 and "No captures yet" in page.get_data(as_text=True)
    assert live.status_code == 200 and "No captures from this camera yet" in live.get_data(
        as_text=True)
    assert "Bird feeder" in title(live.get_data(as_text=True))


def test_a_camera_with_captures_but_no_record_still_has_its_page(logged_in, s3, settings):
    # Given captures of a camera that was never (or no longer) registered
    ref = put_capture(s3, settings.bucket, "old-cam", NOW_MS, "kept")
    # When its page is opened / Then its captures show
    page = logged_in.get("/camera/old-cam")
    assert page.status_code == 200 and ref.id in page.get_data(as_text=True)


# --- the capture page -------------------------------------------------------------------------

def test_the_capture_page_does_not_offer_to_open_itself(logged_in, s3, settings):
    # Given a capture
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "own")
    # When its own page and the lightbox's panel are rendered
    page = logged_in.get(f"/capture/{ref.id}").get_data(as_text=True)
    panel = logged_in.get(f"/capture/{ref.id}/panel").get_data(as_text=True)
    # Then only the panel links to the capture's own page
    assert "Open on its own page" not in page
    assert "Open on its own page" in panel


@pytest.mark.parametrize(("clock", "wording"), [
    ("file", "time from the file (imported)"),
    ("exif", "time from the photo's EXIF data (imported)"),
    ("device", "camera clock (NTP)"),
])
def test_the_clock_of_a_capture_is_explained(logged_in, s3, settings, clock, wording):
    # Given a capture whose time came from the file, EXIF, or the camera
    ref = put_import(s3, settings.bucket, "cam-1", NOW_MS, "clock", clock=clock)
    # When its panel is opened
    panel = logged_in.get(f"/capture/{ref.id}/panel").get_data(as_text=True)
    # Then the clock reads as words, and imported times explain themselves in a tooltip
    shown = re.search(r"Clock</dt><dd>(.*?)</dd>", panel, re.S).group(1)
    assert wording in shown
    if clock != "device":
        assert 'title="Imported with camcloud import' in shown


@pytest.mark.parametrize(("days", "wording"), [
    (0, None), (1, "It can be restored within 1 day (bucket versioning)."),
    (30, "It can be restored within 30 days (bucket versioning)."),
])
def test_the_delete_confirmation_says_whether_a_capture_can_be_restored(settings, s3,
                                                                        gallery_user, days,
                                                                        wording):
    # Given a gallery with CAMCLOUD_UNDELETE_DAYS=days and a capture
    client = create_app(settings.with_changes(undelete_days=days), s3).test_client()
    log_in(client, *gallery_user)
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "undo")
    # When its panel is opened
    panel = client.get(f"/capture/{ref.id}/panel").get_data(as_text=True)
    # Then the delete form's question says how long it can be restored, if at all
    question = re.search(r'data-confirm="([^"]*)"', panel).group(1)
    assert question.startswith("Delete this capture?")
    assert (wording in question) if wording else ("restored" not in question)


# --- names in titles --------------------------------------------------------------------------

def test_titles_show_the_cameras_name_where_it_has_one(logged_in, s3, settings, registry):
    # Given a named camera with a capture, and an unnamed one
    registry.add("garden", name="Garden gate")
    ref = put_capture(s3, settings.bucket, "garden", NOW_MS, "named")
    put_capture(s3, settings.bucket, "plain", NOW_MS, "unnamed")
    # When the cameras page, the camera's page, its live view and the capture are opened
    logged_in.get("/cameras")
    pages = {path: logged_in.get(path).get_data(as_text=True) for path in (
        "/camera/garden", "/camera/garden/live", f"/capture/{ref.id}",
        f"/capture/{ref.id}/panel", "/camera/plain")}
    # Then each title and heading shows the name; the unnamed camera keeps its id
    assert title(pages["/camera/garden"]).startswith("Garden gate")
    assert re.search(r"<h1>Garden gate</h1>", pages["/camera/garden"])
    assert "Garden gate" in title(pages["/camera/garden/live"])
    assert re.search(r"<h1>Garden gate <span", pages["/camera/garden/live"])
    assert title(pages[f"/capture/{ref.id}"]).startswith("Garden gate")
    assert ">Garden gate</a>" in pages[f"/capture/{ref.id}/panel"]
    assert title(pages["/camera/plain"]).startswith("plain")


# --- the cameras page: bursts and imports -----------------------------------------------------

def test_a_burst_does_not_make_the_usual_interval_0_s(logged_in, s3, settings):
    # Given a camera uploading every 10 minutes, each time a burst of 3 frames 200 ms apart
    for i in range(6):
        for frame in range(3):
            put_capture(s3, settings.bucket, "burst-cam",
                        NOW_MS - MINUTE_MS - i * 10 * MINUTE_MS - frame * 200, f"b{i}-{frame}")
    # When the cameras page is opened
    page = logged_in.get("/cameras").get_data(as_text=True)
    # Then it says every 10 min, and every frame counts as an upload
    assert fact(card(page, "burst-cam"), "Usually") == "every 10 min"
    assert fact(card(page, "burst-cam"), r"Uploads, 24 h") == "18"


def test_imported_photos_are_neither_uploads_nor_last_seen(logged_in, s3, settings):
    # Given a camera that uploaded every 10 minutes until 3 hours ago, then 40 photos imported
    # now (their time from the files, copied a minute ago) and 2 imported from a month ago
    for i in range(6):
        put_capture(s3, settings.bucket, "yard", NOW_MS - 3 * 60 * MINUTE_MS - i * 10 * MINUTE_MS,
                    f"u{i}")
    for i in range(40):
        put_import(s3, settings.bucket, "yard", NOW_MS - MINUTE_MS - i * 1000, f"i{i}")
    for i in range(2):
        put_import(s3, settings.bucket, "yard", NOW_MS - 31 * 24 * 60 * MINUTE_MS - i, f"m{i}",
                   clock="exif")
    # When the cameras page is opened
    yard = card(logged_in.get("/cameras").get_data(as_text=True), "yard")
    # Then only the 6 uploads count; last seen is the last upload, the rhythm theirs
    assert fact(yard, r"Uploads, 24 h") == "6"
    assert fact(yard, "Last seen") == "3 h ago"
    assert fact(yard, "Usually") == "every 10 min"
    assert "stale" in yard


class MovableClock:
    """The gallery's clock, set by the test."""

    def __init__(self, now_s: float) -> None:
        self.now = now_s

    def __call__(self) -> float:
        return self.now


def utc_ms(text: str) -> int:
    """Unix ms of an ISO time in UTC."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def test_a_day_only_camera_is_asleep_at_night_and_stale_when_overdue_in_its_hours(
        s3, settings, gallery_user, registry):
    # Given a camera active 07:00-19:00 UTC and one without active hours, both of which sent
    # every 30 min until 18:30 UTC on 1 March
    registry.add("day-cam", name="Day cam")
    device_state.set_config(s3, settings.bucket, "day-cam", active_hours="07:00-19:00")
    registry.add("all-day")
    for device in ("day-cam", "all-day"):
        for i in range(6):
            put_capture(s3, settings.bucket, device,
                        utc_ms("2026-03-01T18:30") - i * 30 * MINUTE_MS, f"{device}-{i}")
    clock = MovableClock(utc_ms("2026-03-02T02:00") / 1000)
    client = create_app(settings, s3, clock=clock).test_client()
    log_in(client, *gallery_user)
    # When the cameras page is opened at 02:00 UTC
    night = client.get("/cameras").get_data(as_text=True)
    # Then the day camera is asleep, with its hours, not stale; the all-day one is stale
    assert "stale-badge" not in card(night, "day-cam")
    assert "asleep (active 07:00\u201319:00 UTC)" in card(night, "day-cam")
    assert "stale-badge" in card(night, "all-day") and "asleep" not in card(night, "all-day")
    # When it is opened again at 10:00 UTC, three hours into the day camera's active time
    clock.now = utc_ms("2026-03-02T10:00") / 1000
    day = client.get("/cameras").get_data(as_text=True)
    # Then the day camera is stale as before, and no longer asleep
    assert "stale-badge" in card(day, "day-cam") and "asleep" not in card(day, "day-cam")
    assert "stale-badge" in card(day, "all-day")


def test_long_intervals_read_in_days():
    assert listing.describe_interval(31 * 86400) == "every 31 d"
    assert listing.describe_interval(2 * 3600) == "every 2.0 h"
    assert listing.describe_interval(0.4) == "every 0 s"  # the floor is the caller's


def test_a_camera_name_is_remembered_from_the_cameras_page_without_an_s3_call(logged_in, s3,
                                                                           settings):
    # Given a named camera with captures, whose record the cameras page has read
    DeviceRegistry(lambda: s3, settings.bucket).add("porch", name="Porch")
    put_capture(s3, settings.bucket, "porch", NOW_MS, "p1")
    logged_in.get("/cameras")
    calls: list[str] = []
    s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    # When the camera's page is opened
    page = logged_in.get("/camera/porch").get_data(as_text=True)
    # Then it shows the name and still costs one listing
    assert "<h1>Porch</h1>" in page and calls == ["ListObjectsV2"]
