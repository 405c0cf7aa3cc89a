"""The gallery's time-lapse and export pages (issue 15 item 4, issue 17 items 4-6): Flask test
client + moto, background jobs run inline through the injected runner."""

from __future__ import annotations

import html
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from camcloud.timelapse import Options, build_timelapse
from gallery import create_app
from gallery.jobs import InProcessJobRunner, default_runner
from tests.conftest import csrf_from
from tests.test_gallery import log_in, put_capture
from tests.timelapse_support import seed

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = START + timedelta(hours=3)


@pytest.fixture
def app(settings: Any, s3: Any, gallery_user: Any) -> Any:
    """The gallery on a fixed clock, its jobs run inside ``submit`` (no thread, no waiting)."""
    def clock() -> float:
        return NOW.timestamp()

    runner = default_runner(settings, lambda: s3, clock, inline=True)
    application = create_app(settings, s3, clock=clock, jobs=runner)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def client(app: Any, gallery_user: Any) -> Any:
    """A logged-in test client."""
    test_client = app.test_client()
    assert log_in(test_client, *gallery_user).status_code == 302
    return test_client


def seed_hour(s3: Any, bucket: str, device: str = "cam-1", count: int = 12) -> None:
    """``count`` captures of ``device``, five minutes apart from START, with previews."""
    for i in range(count):
        seed(s3, bucket, device, START + timedelta(minutes=5 * i), f"f{i}", level=90 + 5 * i)


def video_srcs(page: str) -> list[str]:
    """The src of every <video> on a page, unescaped."""
    return [html.unescape(src) for src in re.findall(r'<video src="([^"]+)"', page)]


def test_the_time_lapse_page_lists_a_daily_video_with_a_player_and_a_download(
        client, s3, settings):
    # Given a video the time-lapse service built for cam-1
    seed_hour(s3, settings.bucket)
    result = build_timelapse(s3, settings.bucket, "cam-1", START, START + timedelta(hours=1),
                             Options(), clock=lambda: NOW)
    # When the camera's time-lapse page is opened
    response = client.get("/camera/cam-1/timelapse")
    page = response.get_data(as_text=True)
    # Then the video plays from a presigned URL of its key, with a download and a share link
    assert response.status_code == 200
    [src] = video_srcs(page)
    assert f"/{result.key}?" in src and "X-Amz-Signature=" in src and "X-Amz-Expires=900" in src
    assert "response-content-disposition=attachment" in html.unescape(page)
    assert f"{result.frames_used} frames" in page and "/share/new?timelapse=" in page
    # And the CSP lets the <video> load from the bucket
    csp = response.headers["Content-Security-Policy"]
    assert "media-src 'self' http" in csp


def test_a_custom_range_runs_as_a_job_and_lands_in_the_list(client, s3, settings):
    # Given captures and the page's range form
    seed_hour(s3, settings.bucket)
    form = client.get("/camera/cam-1/timelapse").get_data(as_text=True)
    # When a range is asked for with a stamp, 10 fps and dark frames kept
    response = client.post("/camera/cam-1/timelapse", data={
        "csrf_token": csrf_from(form), "from": "2026-11-20T09:00", "to": "2026-11-20T10:00",
        "fps": "10", "keep_dark": "on", "deflicker": "on", "stamp": "on"})
    # Then the page comes back following the job, which finished with every frame
    assert response.status_code == 303 and "job=" in response.headers["Location"]
    job_id = response.headers["Location"].split("job=")[1]
    job = client.get(f"/api/jobs/{job_id}").get_json()
    assert job["state"] == "done" and job["percent"] == 100 and job["done"] == 12
    assert job["key"].startswith("timelapse/cam-1/range/20261120T090000Z_20261120T100000Z_")
    # And the range is in the list
    page = client.get("/camera/cam-1/timelapse").get_data(as_text=True)
    assert any(f"/{job['key']}?" in src for src in video_srcs(page))
    assert "2026-11-20 09:00 – 2026-11-20 10:00" in page


def test_a_range_without_usable_frames_fails_with_the_reason(client, registry):
    # Given a registered camera without any capture / When a range is built
    registry.add("cam-1")
    form = client.get("/camera/cam-1/timelapse").get_data(as_text=True)
    response = client.post("/camera/cam-1/timelapse", data={
        "csrf_token": csrf_from(form), "from": "2026-11-20T09:00", "to": "2026-11-20T10:00"})
    job_id = response.headers["Location"].split("job=")[1]
    # Then the job failed and says why
    job = client.get(f"/api/jobs/{job_id}").get_json()
    assert job["state"] == "failed" and "no usable frames" in job["error"]


@pytest.mark.parametrize("fields, message", [
    ({"from": "yesterday", "to": "2026-11-20T10:00"}, "from: expected a date"),
    ({"from": "2026-11-20T10:00", "to": "2026-11-20T09:00"}, "must end after it starts"),
    ({"from": "2026-01-01T00:00", "to": "2026-11-20T09:00"}, "at most 31 days"),
    ({"from": "2026-11-20T09:00", "to": "2026-11-20T10:00", "fps": "500"}, "fps must be 1-60"),
])
def test_a_bad_range_form_is_refused_with_400_naming_the_field(client, registry, fields,
                                                               message):
    # Given a camera's range form / When it is posted with a bad field / Then 400 says which
    registry.add("cam-1")
    page = client.get("/camera/cam-1/timelapse")
    assert page.status_code == 200
    form = page.get_data(as_text=True)
    response = client.post("/camera/cam-1/timelapse",
                           data={"csrf_token": csrf_from(form), **fields})
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_another_users_job_is_not_found(app, client, settings, s3):
    # Given a job of alice
    seed_hour(s3, settings.bucket)
    form = client.get("/camera/cam-1/timelapse").get_data(as_text=True)
    location = client.post("/camera/cam-1/timelapse", data={
        "csrf_token": csrf_from(form), "from": "2026-11-20T09:00",
        "to": "2026-11-20T10:00"}).headers["Location"]
    from camcloud.users import UserStore
    UserStore(lambda: s3, settings.bucket).add("bob", "another long password")
    other = app.test_client()
    log_in(other, "bob", "another long password")
    # When bob asks for its progress / Then it does not exist for him
    assert other.get(f"/api/jobs/{location.split('job=')[1]}").status_code == 404


def test_the_time_lapse_page_of_a_camera_that_does_not_exist_is_not_found(client):
    # Given no camera "nosuch" / When its time-lapse page is opened / Then 404
    assert client.get("/camera/nosuch/timelapse").status_code == 404
    assert client.get("/camera/..%2Fusers/timelapse").status_code == 404


def test_a_day_exports_as_a_streamed_valid_zip(client, s3, settings):
    # Given three captures on 20 Nov and one on 21 Nov
    day = int(START.timestamp() * 1000)
    for i in range(3):
        put_capture(s3, settings.bucket, "cam-1", day + i * 60_000, f"d{i}")
    put_capture(s3, settings.bucket, "cam-1", day + 86_400_000, "next")
    # When the day is downloaded
    response = client.get("/camera/cam-1/export.zip?date=2026-11-20")
    # Then it streams a ZIP of that day's originals only
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"] == 'attachment; filename="cam-1_2026-11-20.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.testzip() is None and len(archive.namelist()) == 3
    assert all(name.startswith("2026-11-20_") for name in archive.namelist())


def test_a_bad_export_date_is_a_400(client):
    # Given / When the day is not a date / Then 400, not a broken download
    response = client.get("/camera/cam-1/export.zip?date=tomorrow")
    assert response.status_code == 400 and "invalid date" in response.get_data(as_text=True)


def test_a_date_range_export_becomes_a_zip_in_exports_with_a_link(client, s3, settings):
    # Given captures on two days
    day = int(START.timestamp() * 1000)
    put_capture(s3, settings.bucket, "cam-1", day, "a")
    put_capture(s3, settings.bucket, "cam-1", day + 86_400_000, "b")
    form = client.get("/camera/cam-1/timelapse").get_data(as_text=True)
    # When both days are exported in the background
    location = client.post("/camera/cam-1/export", data={
        "csrf_token": csrf_from(form), "from": "2026-11-20", "to": "2026-11-21"}
    ).headers["Location"]
    job = client.get(f"/api/jobs/{location.split('job=')[1]}").get_json()
    # Then the ZIP is in exports/ and the job links it with a presigned URL
    assert job["state"] == "done" and job["key"].startswith("exports/cam-1/")
    assert job["key"].endswith("cam-1_2026-11-20_2026-11-21.zip")
    assert "X-Amz-Signature" in job["url"]
    body = s3.get_object(Bucket=settings.bucket, Key=job["key"])["Body"].read()
    assert len(zipfile.ZipFile(io.BytesIO(body)).namelist()) == 2


def test_the_job_runner_refuses_work_beyond_its_bound():
    # Given a runner with one worker and no waiting room, whose job blocks
    import threading

    release = threading.Event()
    runner = InProcessJobRunner({"wait": lambda params, progress: release.wait(5) and {}},
                                workers=1, max_pending=0)
    try:
        runner.submit("wait", {"owner": "alice"})
        # When another job is submitted / Then it is refused with 429, not queued without bound
        with pytest.raises(Exception) as refused:
            runner.submit("wait", {"owner": "alice"})
        assert getattr(refused.value, "status", None) == 429
    finally:
        release.set()
        runner.close()


def test_the_time_lapse_page_costs_one_listing_and_one_get_per_video(client, s3, settings):
    # Given two videos of cam-1 (a day and a range) and a video of another camera
    from tests.test_gallery import S3Calls

    seed_hour(s3, settings.bucket)
    seed_hour(s3, settings.bucket, device="cam-2", count=3)
    for device, options in (("cam-1", Options()), ("cam-1", Options(fps=10)),
                            ("cam-2", Options())):
        build_timelapse(s3, settings.bucket, device, START, START + timedelta(hours=1),
                        options, clock=lambda: NOW)
    calls = S3Calls(s3)
    # When cam-1's page is served
    page = client.get("/camera/cam-1/timelapse").get_data(as_text=True)
    # Then it lists cam-1's two videos only, for 1 listing, 1 sidecar GET each and the
    # camera's registry record (its name)
    assert len(video_srcs(page)) == 2 and all("/cam-1/" in src for src in video_srcs(page))
    assert sorted(calls.names) == ["GetObject"] * 3 + ["ListObjectsV2"]
    # And a second view reads the name from the registry's cache
    calls.names.clear()
    client.get("/camera/cam-1/timelapse")
    assert sorted(calls.names) == ["GetObject"] * 2 + ["ListObjectsV2"]
