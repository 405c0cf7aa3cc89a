"""The gallery's device management pages against moto: settings, capture now, firmware."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from camcloud import device_state, layout
from camcloud.devices import DeviceRegistry
from camcloud.firmware_release import (
    keygen,
    load_private_key,
    load_release,
    publish,
    state_for_answer,
)
from camcloud.s3 import get_json
from gallery import device_queries
from tests.conftest import csrf_from
from tests.test_gallery import S3Calls, put_capture

# An ESP-IDF app image starts with 0xE9; the rest stands in for a real build.
IMAGE = b"\xe9\x06\x02\x20" + bytes(range(256)) * 16
VALID = {"interval_s": "120", "image_mode": "vga", "jpeg_quality": "high", "pir": "on",
         "active_hours": "06:30-20:00", "checkin_s": "30"}


@pytest.fixture
def camera(registry: DeviceRegistry) -> str:
    """A registered camera, ``yard``, named "Yard"."""
    registry.add("yard", name="Yard")
    return "yard"


def document(s3: Any, bucket: str, device: str) -> dict[str, Any]:
    """The stored ``devices/{device}.json``."""
    return dict(get_json(s3, bucket, layout.device_key(device)))


def post_settings(client: Any, device: str, values: dict[str, str], *,
                  token: str | None = None) -> Any:
    """Post the settings form the way the browser does (with the page's CSRF token)."""
    if token is None:
        token = csrf_from(client.get(f"/camera/{device}/settings").get_data(as_text=True))
    return client.post(f"/camera/{device}/settings", data={**values, "csrf_token": token})


def capture_now(client: Any, device: str) -> Any:
    """Press "Capture now" on the settings page."""
    token = csrf_from(client.get(f"/camera/{device}/settings").get_data(as_text=True))
    return client.post(f"/camera/{device}/capture", data={"csrf_token": token})


def command_items(page: str) -> dict[str, tuple[str, str]]:
    """The commands list: {command id: (status, the item's HTML)}."""
    return {m[0]: (m[1], m[2]) for m in re.findall(
        r'data-command="([^"]+)" data-status="([^"]+)">(.*?)</li>', page, re.S)}


# --- the settings form ------------------------------------------------------------------------


def test_an_interval_of_0_is_refused_with_its_message_and_nothing_is_written(
        logged_in, s3, settings, camera):
    # Given a registered camera and its stored record
    before = document(s3, settings.bucket, camera)
    # When the form is posted with an interval of 0 and a bad active-hours window
    response = post_settings(logged_in, camera, {**VALID, "interval_s": "0",
                                                 "active_hours": "25:00-06:00"})
    # Then the page comes back as 400 with each field's message next to it
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="interval_s-error"' in page
    assert "interval_s: must be from 5 to 86400 seconds, not 0" in page
    assert 'id="active_hours-error"' in page
    assert "Nothing was saved" in page
    # And the values typed are kept in the form
    assert 'name="interval_s" type="number" inputmode="numeric" value="0"' in page
    assert 'value="25:00-06:00"' in page
    assert '<option value="vga" selected>' in page
    # And nothing was written
    assert document(s3, settings.bucket, camera) == before


def test_a_valid_change_bumps_the_version_and_shows_desired_against_applied(
        logged_in, s3, settings, camera):
    # Given a camera with no config set on the server
    # When valid settings are saved
    response = post_settings(logged_in, camera, VALID)
    # Then the browser is sent back to the page, which says it was saved
    assert response.status_code == 303
    page = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved." in page
    # And the desired config is stored with version 1, in canonical form
    config = document(s3, settings.bucket, camera)["config"]
    assert config == {"version": 1, "interval_s": 120, "image_mode": "vga",
                      "jpeg_quality": "high", "pir": True, "battery_mode": False,
                      "active_hours": "06:30-20:00", "checkin_s": 30}
    # And the page shows version 1 desired, none applied, highlighted as drift
    assert 'data-drift="yes"' in page and "version 1" in page
    assert "not reported yet" in page
    # When the camera reports it applied version 1
    device_state.report(s3, settings.bucket, camera, {"X-Config-Version": "1"},
                        now=datetime.now(UTC))
    # Then the page shows it in sync
    page = logged_in.get(f"/camera/{camera}/settings").get_data(as_text=True)
    assert 'data-drift="no"' in page and "in sync" in page
    # And saving the same values again does not bump the version
    assert post_settings(logged_in, camera, VALID).status_code == 303
    assert document(s3, settings.bucket, camera)["config"]["version"] == 1


def test_settings_posted_without_the_csrf_token_are_refused(logged_in, s3, settings, camera):
    # Given a logged-in session and the stored record
    before = document(s3, settings.bucket, camera)
    # When a page elsewhere posts the settings form without the session's token
    response = logged_in.post(f"/camera/{camera}/settings", data=VALID)
    wrong = post_settings(logged_in, camera, VALID, token="forged")
    capture = logged_in.post(f"/camera/{camera}/capture")
    # Then every one is refused and nothing is written
    assert (response.status_code, wrong.status_code, capture.status_code) == (400, 400, 400)
    assert "the form expired" in response.get_data(as_text=True)
    assert document(s3, settings.bucket, camera) == before


def test_the_settings_of_an_unknown_camera_are_not_found(logged_in, registry):
    # Given no camera "ghost" / When its settings, capture-now or a bad id are asked for
    token = csrf_from(logged_in.get("/").get_data(as_text=True))
    # Then each is a 404 page, never a 500
    assert logged_in.get("/camera/ghost/settings").status_code == 404
    assert logged_in.post("/camera/ghost/settings",
                          data={**VALID, "csrf_token": token}).status_code == 404
    assert logged_in.post("/camera/ghost/capture", data={"csrf_token": token}).status_code == 404
    assert logged_in.get("/camera/Not_A_Camera/settings").status_code == 404
    assert logged_in.get("/camera/ghost/commands/abc/capture").status_code == 404


@pytest.mark.parametrize("method,path", [
    ("get", "/camera/yard/settings"), ("post", "/camera/yard/settings"),
    ("post", "/camera/yard/capture"), ("get", "/firmware"),
    ("get", "/camera/yard/commands/abc/capture")])
def test_device_pages_without_login_go_to_the_login_page(gallery_client, s3, settings, camera,
                                                         method, path):
    # Given a visitor without a session / When they open or post a device page
    response = getattr(gallery_client, method)(path, data=VALID if method == "post" else None)
    # Then a page sends them to log in, a form post is refused, and nothing is written
    if method == "get":
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    else:
        assert response.status_code == 401
    assert "config" not in document(s3, settings.bucket, camera)


# --- capture now ------------------------------------------------------------------------------


def test_capture_now_shows_pending_then_done_with_a_link_to_the_capture(
        logged_in, s3, settings, camera):
    # Given a camera's settings page
    # When "Capture now" is pressed
    response = capture_now(logged_in, camera)
    # Then the browser comes back to the page, where the request is pending
    assert response.status_code == 303
    command_id = response.headers["Location"].rsplit("#cmd-", 1)[1]
    items = command_items(logged_in.get(f"/camera/{camera}/settings").get_data(as_text=True))
    assert items[command_id][0] == "pending"
    # When the camera uploads the capture and reports the command done with it
    now_ms = int(time.time() * 1000)
    ref = put_capture(s3, settings.bucket, camera, now_ms, "A4CF12-17-203")
    put_capture(s3, settings.bucket, camera, now_ms - 60_000, "older-1")
    device_state.report(s3, settings.bucket, camera,
                        {"X-Commands-Done": f"{command_id}=A4CF12-17-203"},
                        now=datetime.now(UTC))
    # Then the page shows it done, linking to that capture
    page = logged_in.get(f"/camera/{camera}/settings").get_data(as_text=True)
    status, item = command_items(page)[command_id]
    assert status == "done" and "A4CF12-17-203" in item
    link = re.search(r'href="([^"]+)">see capture', item)[1]
    # And following the link costs one state read and one listing, and lands on the capture
    calls = S3Calls(s3)
    found = logged_in.get(link)
    assert calls.names == ["GetObject", "ListObjectsV2"]
    assert found.status_code == 303
    assert found.headers["Location"].startswith(f"/capture/{ref.id}?next=")
    assert logged_in.get(found.headers["Location"]).status_code == 200


def test_a_done_capture_that_is_not_stored_says_so(logged_in, s3, settings, camera):
    # Given a capture-now the camera reported done with a capture that never arrived
    command = device_state.request_capture(s3, settings.bucket, camera, now=datetime.now(UTC))
    device_state.report(s3, settings.bucket, camera, {"X-Commands-Done": f"{command.id}=lost-1"},
                        now=datetime.now(UTC))
    # When its link is followed
    response = logged_in.get(f"/camera/{camera}/commands/{command.id}/capture")
    # Then the page says the capture is not stored
    assert response.status_code == 404
    assert "lost-1 is not stored" in response.get_data(as_text=True)


def test_a_ninth_waiting_capture_is_refused_with_a_message(logged_in, s3, settings, camera):
    # Given eight capture-now requests waiting for the camera
    for _ in range(device_state.MAX_PENDING):
        assert capture_now(logged_in, camera).status_code == 303
    # When the button is pressed again
    response = capture_now(logged_in, camera)
    # Then it is refused with the reason, and still eight wait
    assert response.status_code == 409
    assert "already waiting" in response.get_data(as_text=True)
    assert len(device_state.read_state(s3, settings.bucket, camera).pending) == 8


# --- firmware ---------------------------------------------------------------------------------


def test_the_firmware_page_shows_a_halted_rollout(logged_in, s3, settings, registry,
                                                  tmp_path: Path):
    # Given two cameras on 1.0.0 and release 1.1.0 published to both
    bucket = settings.bucket
    for name in ("cam-a", "cam-b"):
        registry.add(name)
    keygen(tmp_path / "fw.key")
    image = tmp_path / "firmware.bin"
    image.write_bytes(IMAGE)
    now = datetime.now(UTC)
    publish(s3, bucket, image, "1.1.0", load_private_key(tmp_path / "fw.key"), now=now,
            devices=["cam-a", "cam-b"])

    def check_in(device: str, headers: dict[str, str]) -> dict[str, Any]:
        record = get_json(s3, bucket, layout.device_key(device))
        return state_for_answer(s3, bucket, device, headers, record=record, now=now, ttl=300,
                                release=load_release(s3, bucket))

    assert check_in("cam-a", {"X-Firmware": "1.0.0"})["firmware"]  # the canary is offered
    check_in("cam-b", {"X-Firmware": "1.0.0"})
    # When the canary reports the update failed, and the firmware page is opened
    check_in("cam-a", {"X-Firmware": "1.0.0", "X-Ota-Result": "failed:sha256"})
    page = logged_in.get("/firmware").get_data(as_text=True)
    # Then the page lists the version and says the rollout is halted, by whom and why
    assert ">1.1.0</a>" in page and "offered to cameras" in page
    assert "Rollout halted" in page and "cam-a reported failed: sha256" in page
    rows = dict(re.findall(r'data-device="([^"]+)" data-status="([^"]+)"', page))
    assert rows == {"cam-a": "failed", "cam-b": "halted"}
    assert "Update failed (sha256)" in page
    assert "Not offered: the rollout is halted" in page


def test_the_firmware_page_without_releases_says_how_to_publish(logged_in):
    # Given no firmware published / When the page is opened / Then it says how to publish
    page = logged_in.get("/firmware").get_data(as_text=True)
    assert "camcloud firmware publish" in page
    # And a version that is not one is a 400, one that is not published a 404
    assert logged_in.get("/firmware?version=../x").status_code == 400
    assert logged_in.get("/firmware?version=9.9.9").status_code == 404


# --- the cameras page -------------------------------------------------------------------------


def test_the_cameras_page_shows_config_drift_firmware_and_a_settings_link(
        logged_in, s3, settings, camera):
    # Given a camera on 1.4.2 whose desired config (version 2) it has applied only up to 1
    device_state.set_config(s3, settings.bucket, camera, interval_s=60)
    device_state.report(s3, settings.bucket, camera,
                        {"X-Config-Version": "1", "X-Firmware": "1.4.2"},
                        now=datetime.now(UTC))
    device_state.set_config(s3, settings.bucket, camera, interval_s=90)
    put_capture(s3, settings.bucket, camera, int(time.time() * 1000) - 5000, "y1")
    reads: list[str] = []
    s3.meta.events.register("before-parameter-build.s3.GetObject",
                            lambda params, **_: reads.append(params["Key"]))
    # When the cameras page is opened
    page = logged_in.get("/cameras").get_data(as_text=True)
    # Then the camera's card shows the drift, its firmware and a link to its settings
    card = re.search(r'data-device="yard">(.*?)</li>', page, re.S)[1]
    assert "config-drift" in card and "v2 desired, v1 applied" in card
    assert "1.4.2" in card
    assert f'href="/camera/{camera}/settings"' in card
    # And the state cost no S3 call beyond the registry read the page always made
    assert reads.count(layout.device_key(camera)) == 1  # the one read the page always made
    # When the camera applies version 2 and the gallery changes nothing
    device_state.report(s3, settings.bucket, camera, {"X-Config-Version": "2"},
                        now=datetime.now(UTC))
    # Then a change made from the gallery shows at once on the cameras page
    assert post_settings(logged_in, camera, {**VALID, "interval_s": "90"}).status_code == 303
    page = logged_in.get("/cameras").get_data(as_text=True)
    card = re.search(r'data-device="yard">(.*?)</li>', page, re.S)[1]
    assert "v3 desired, v2 applied" in card


def test_the_camera_page_links_to_its_settings_and_has_a_capture_now_button(
        logged_in, s3, settings, camera):
    # Given a registered camera / When its page is opened
    page = logged_in.get(f"/camera/{camera}").get_data(as_text=True)
    # Then it links to its settings, and the navigation to the firmware page
    assert f'href="/camera/{camera}/settings"' in page
    assert 'href="/firmware"' in page
    # When its "Capture now" button is pressed
    response = logged_in.post(f"/camera/{camera}/capture", data={"csrf_token": csrf_from(page)})
    # Then a capture is queued and the browser goes to the settings page, where it shows
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"/camera/{camera}/settings#cmd-")
    assert len(device_state.read_state(s3, settings.bucket, camera).pending) == 1


# --- the query module without HTTP ------------------------------------------------------------


def test_find_capture_looks_only_around_the_time_the_command_was_done(
        gallery_app, s3, settings, camera):
    # Given 5 captures a minute apart, one of them the capture-now
    gallery = gallery_app.extensions["camcloud"]
    base = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for i in range(5):
        put_capture(s3, settings.bucket, camera,
                    layout.ms_of(base + timedelta(minutes=i)), f"c{i}")
    queued = (base + timedelta(minutes=1, seconds=50)).isoformat()
    done = (base + timedelta(minutes=2, seconds=1)).isoformat()
    # When the capture is looked up / Then it is found, and one from before the request is not
    ref = device_queries.find_capture(gallery, camera, "c2", queued, done)
    assert ref is not None and ref.capture_id == "c2"
    later = (base + timedelta(hours=1)).isoformat()
    assert device_queries.find_capture(gallery, camera, "c0", later, later) is None


def test_hostile_form_values_get_messages_never_a_500(logged_in, s3, settings, camera):
    # Given the stored record
    before = document(s3, settings.bucket, camera)
    # When the form carries non-ASCII digits, a huge mode, a NUL and an unknown extra field
    response = post_settings(logged_in, camera, {
        **VALID, "interval_s": "\u00b2", "checkin_s": "\u0665", "image_mode": "x" * 5000,
        "active_hours": "\x00", "version": "99", "firmware": "evil"})
    # Then each bad field is refused with its message and nothing is written
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    for name in ("interval_s", "checkin_s", "image_mode", "active_hours"):
        assert f'id="{name}-error"' in page
    assert document(s3, settings.bucket, camera) == before


def test_the_active_hours_hint_says_utc_as_the_firmware_reads_them(logged_in, camera):
    # Regression: the hint said "camera's local time", but the firmware compares the UTC minute
    # of the day (it has no time zone), and the alerts count the same UTC window
    page = logged_in.get(f"/camera/{camera}/settings").get_data(as_text=True)
    hint = re.search(r'id="active_hours".*?<p class="hint">(.*?)</p>', page, re.S)
    assert hint is not None and "UTC" in hint.group(1) and "local time" not in hint.group(1)
