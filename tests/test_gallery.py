"""The gallery against moto: login, CSRF, presigned URLs, paging, capture actions, bad input."""

from __future__ import annotations

import datetime as dt
import html
import importlib
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.config import Config
from werkzeug.test import Client

from camcloud import layout
from camcloud.devices import DeviceRegistry
from gallery import create_app
from gallery.presign import Presigner
from tests.conftest import csrf_from

NOW_MS = int(time.time() * 1000)


def put_capture(s3: Any, bucket: str, device: str, captured_ms: int, capture_id: str, *,
                status: str = "ok", telemetry: dict[str, Any] | None = None,
                thumb: bool = True) -> layout.CaptureRef:
    """Store a capture as ingest + thumbnailer would: original, thumbnail, preview, record."""
    ref = layout.CaptureRef.new(device, captured_ms, capture_id)
    s3.put_object(Bucket=bucket, Key=ref.raw_key, Body=b"\xff\xd8original\xff\xd9")
    if thumb:
        s3.put_object(Bucket=bucket, Key=ref.thumb_key, Body=b"\xff\xd8thumb\xff\xd9")
        s3.put_object(Bucket=bucket, Key=ref.preview_key, Body=b"\xff\xd8preview\xff\xd9")
    record = {
        "schema": 1, "device": device, "capture_id": capture_id, "status": status,
        "captured_at": "2026-01-01T00:00:00.000+00:00", "clock": "device", "bytes": 153_000,
        "width": 1600, "height": 1200, "quality": {"brightness": 120.0, "sharpness": 4.0,
                                                   "dark": False},
        "telemetry": telemetry or {"firmware": "1.4.2", "rssi": -61, "free_heap": 81_234},
        "error": "cannot identify image file" if status == "error" else None,
        "error_code": "corrupt" if status == "error" else None,
    }
    s3.put_object(Bucket=bucket, Key=ref.meta_key, Body=json.dumps(record).encode())
    return ref


def keys_of(s3: Any, bucket: str) -> set[str]:
    """Every key in the bucket."""
    return {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def log_in(client: Any, user: str, password: str) -> Any:
    """Post the login form with its CSRF token; return the response."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": user, "password": password,
                                       "csrf_token": token})


def tile_ids(page: str) -> list[str]:
    """Capture ids of the grid's tiles, in page order."""
    return re.findall(r'<li class="tile" data-capture="([^"]+)"', page)


def img_urls(page: str) -> list[str]:
    """The src of every <img> on a page, unescaped."""
    return [html.unescape(u) for u in re.findall(r'<img src="([^"]+)"', page)]


class S3Calls:
    """Counts the S3 API calls a client makes (botocore's before-call event)."""

    def __init__(self, client: Any) -> None:
        self.names: list[str] = []
        client.meta.events.register("before-call.s3", self._count)

    def _count(self, model: Any, **kwargs: Any) -> None:
        self.names.append(model.name)


@pytest.fixture
def small_pages(settings: Any, s3: Any, gallery_user: Any) -> Any:
    """A logged-in client of a gallery showing 3 captures per page, with 7 captures stored."""
    app = create_app(settings.with_changes(gallery_page_size=3), s3)
    client = app.test_client()
    assert log_in(client, *gallery_user).status_code == 302
    refs = [put_capture(s3, settings.bucket, f"cam-{i % 2 + 1}", NOW_MS - i * 60_000, f"c{i}")
            for i in range(7)]
    return client, refs


# --- privacy ----------------------------------------------------------------------------------

PAGES = ["/", "/camera/cam-1", "/cameras", "/camera/cam-1/live",
         "/capture/cam-1_8204741645565_c2", "/capture/cam-1_8204741645565_c2/panel",
         "/capture/cam-1_8204741645565_c2/download"]
APIS = ["/api/links?id=cam-1_8204741645565_c2", "/api/camera/cam-1/latest",
        "/api/capture/cam-1_8204741645565_c2/check"]


@pytest.mark.parametrize("path", PAGES)
def test_no_page_is_served_without_login(gallery_client, path):
    # Given a visitor without a session / When they open a gallery page
    response = gallery_client.get(path)
    # Then they are sent to the login page, which brings them back afterwards
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", APIS)
def test_no_url_or_capture_data_is_served_without_login(gallery_client, path):
    # Given a visitor without a session / When a page script asks for URLs or status
    response = gallery_client.get(path)
    # Then it gets 401 and no presigned URL
    assert response.status_code == 401
    assert "X-Amz" not in response.get_data(as_text=True)


def test_delete_without_login_is_refused_and_deletes_nothing(gallery_client, s3, settings):
    # Given a stored capture and a visitor without a session
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "keep")
    before = keys_of(s3, settings.bucket)
    # When they post a delete
    response = gallery_client.post(f"/capture/{ref.id}/delete")
    # Then it is refused and every object is still there
    assert response.status_code == 401
    assert keys_of(s3, settings.bucket) == before


def test_login_can_be_turned_off_only_explicitly(settings, s3):
    # Given the default settings, and settings with CAMCLOUD_GALLERY_LOGIN=off
    default = create_app(settings, s3).test_client()
    off = create_app(settings.from_env({**settings.as_env(), "CAMCLOUD_GALLERY_LOGIN": "off"}),
                     s3).test_client()
    # When each serves the timeline without a session
    # Then only the explicitly opened one shows it, and says that login is off
    assert default.get("/").status_code == 302
    page = off.get("/")
    assert page.status_code == 200 and "login is off" in page.get_data(as_text=True)


# --- CSRF -------------------------------------------------------------------------------------

def test_login_without_the_csrf_token_is_refused(gallery_client, gallery_user):
    # Given the right password but no CSRF token
    response = gallery_client.post("/login", data={"username": gallery_user[0],
                                                   "password": gallery_user[1]})
    # Then the login is refused and no session starts
    assert response.status_code == 400
    assert gallery_client.get("/").status_code == 302


def test_delete_with_a_wrong_csrf_token_deletes_nothing(logged_in, s3, settings):
    # Given a logged-in user and a stored capture
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "keep")
    before = keys_of(s3, settings.bucket)
    # When a delete arrives without the token, and with a forged one
    missing = logged_in.post(f"/capture/{ref.id}/delete")
    forged = logged_in.post(f"/capture/{ref.id}/delete", data={"csrf_token": "forged"})
    # Then both are refused and nothing is deleted
    assert missing.status_code == 400 and forged.status_code == 400
    assert keys_of(s3, settings.bucket) == before


def test_logout_needs_the_csrf_token(logged_in):
    # Given a logged-in user
    # When a cross-site form posts to /logout without the token
    assert logged_in.post("/logout").status_code == 400
    # Then the session survives; with the token it ends
    page = logged_in.get("/").get_data(as_text=True)
    assert logged_in.post("/logout", data={"csrf_token": csrf_from(page)}).status_code == 302
    assert logged_in.get("/").status_code == 302


def test_every_form_on_the_pages_carries_a_csrf_token(logged_in, s3, settings):
    # Given a capture, so that the panel has its delete form
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "form")
    # When the pages with POST forms are rendered
    for path in ["/", f"/capture/{ref.id}", f"/capture/{ref.id}/panel", "/cameras"]:
        page = logged_in.get(path).get_data(as_text=True)
        # Then every POST form holds the token
        for form in re.findall(r'<form method="post".*?</form>', page, re.S):
            assert 'name="csrf_token" value="' in form, (path, form)


# --- login hardening --------------------------------------------------------------------------

def test_login_attempts_are_rate_limited(settings, s3, gallery_user):
    # Given a gallery allowing 3 attempts at once
    client = create_app(settings.with_changes(gallery_login_burst=3), s3).test_client()
    # When someone guesses passwords
    statuses = [log_in(client, gallery_user[0], f"guess-{i}").status_code for i in range(4)]
    # Then after 3 wrong ones they are told to wait, even with the right password
    assert statuses == [401, 401, 401, 429]
    blocked = log_in(client, *gallery_user)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(("mode", "headers", "secure"), [
    ("auto", {}, False),
    ("auto", {"X-Forwarded-Proto": "https"}, True),
    ("on", {}, True),
    ("off", {"X-Forwarded-Proto": "https"}, False),
])
def test_the_session_cookie_is_secure_as_configured(settings, s3, gallery_user, mode, headers,
                                                    secure):
    # Given a gallery with CAMCLOUD_GALLERY_COOKIE_SECURE=mode
    client = create_app(settings.with_changes(gallery_cookie_secure=mode), s3).test_client()
    token = csrf_from(client.get("/login", headers=headers).get_data(as_text=True))
    # When a user logs in (over HTTPS when the proxy says so)
    response = client.post("/login", headers=headers, data={
        "username": gallery_user[0], "password": gallery_user[1], "csrf_token": token})
    # Then the session cookie is HttpOnly, SameSite=Lax, and Secure as configured
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure


# --- presigned URLs ---------------------------------------------------------------------------

def test_presigned_urls_are_sigv4_with_the_configured_ttl(settings, s3, gallery_user):
    # Given a gallery with a 10-minute TTL and one capture
    app = create_app(settings.with_changes(presign_ttl=600), s3)
    client = app.test_client()
    log_in(client, *gallery_user)
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "signed")
    # When the timeline and the fresh-URL endpoint are read
    page = client.get("/").get_data(as_text=True)
    fresh = client.get(f"/api/links?id={ref.id}").get_json()
    urls = img_urls(page) + list(fresh["captures"][ref.id].values())
    # Then every URL is a SigV4 URL for the bucket's thumbnail or preview, valid 600 s
    assert len(urls) == 3
    for url in urls:
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert query["X-Amz-Expires"] == ["600"]
        assert query["X-Amz-SignedHeaders"] == ["host"]
        assert len(query["X-Amz-Signature"][0]) == 64
    assert f"/{ref.thumb_key}?" in urls[0]
    # And the page knows when its links expire, no later than the TTL from now
    expires = int(re.search(r'data-expires="(\d+)"', page).group(1))
    assert time.time() + 600 * 4 / 5 - 2 <= expires <= time.time() + 600


@pytest.mark.parametrize("session_token", [None, "FwoGZXIvYXdzE+temporary/token=="])
@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:4566"])
def test_the_fast_presigner_signs_exactly_like_botocore(aws_credentials, settings, monkeypatch,
                                                         session_token, endpoint):
    # Given a client with long-term or instance-role (session token) credentials, on AWS or
    # on a local endpoint, and our signer and botocore at the same signing time
    client = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG",
        aws_session_token=session_token,
    ).client("s3", region_name="eu-central-1", endpoint_url=endpoint,
             config=Config(signature_version="s3v4"))
    signer = Presigner(client, settings.bucket, 900)
    signed_at = signer.window().signed_at
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: dt.datetime.fromtimestamp(
        signed_at, dt.UTC).replace(tzinfo=None))
    key = "raw/cam-1/8204741645565_abc-1.jpg"
    # When both presign a download of the same key
    ours = signer.url(key, download_name="cam-1 photo.jpg")
    theirs = client.generate_presigned_url("get_object", ExpiresIn=900, Params={
        "Bucket": settings.bucket, "Key": key,
        "ResponseContentDisposition": 'attachment; filename="cam-1 photo.jpg"'})
    # Then the URLs name the same object with the same parameters and signature
    assert urlsplit(ours)[:3] == urlsplit(theirs)[:3]
    assert parse_qs(urlsplit(ours).query) == parse_qs(urlsplit(theirs).query)


def test_a_failed_image_gets_fresh_urls_or_the_reason(logged_in, s3, settings):
    # Given a good capture, a corrupt one without a thumbnail, and a deleted one
    good = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "good")
    bad = put_capture(s3, settings.bucket, "cam-1", NOW_MS - 1000, "bad", status="error",
                      thumb=False)
    gone = layout.CaptureRef.new("cam-1", NOW_MS - 2000, "gone")
    # When the page asks why each image failed
    answers = {ref.capture_id: logged_in.get(f"/api/capture/{ref.id}/check").get_json()
               for ref in (good, bad, gone)}
    # Then the good one gets new URLs, the corrupt one its error, the deleted one "gone"
    assert answers["good"]["status"] == "ok" and "X-Amz-Signature" in answers["good"]["thumb"]
    assert answers["bad"]["status"] == "error" and "cannot identify" in answers["bad"]["error"]
    assert answers["gone"]["status"] == "gone"


# --- timeline ---------------------------------------------------------------------------------

def test_pages_follow_the_cursor_newest_first_without_gaps_or_repeats(small_pages):
    # Given 7 captures and 3 per page
    client, refs = small_pages
    seen: list[str] = []
    path = "/"
    # When the user follows "Older" to the end
    while path:
        page = client.get(path).get_data(as_text=True)
        seen.extend(tile_ids(page))
        older = re.search(r'rel="next" class="older" href="([^"]+)"', page)
        path = html.unescape(older.group(1)) if older else ""
    # Then every capture appears exactly once, newest first
    assert seen == [ref.id for ref in refs]


def test_one_cameras_page_shows_only_its_captures(small_pages):
    # Given captures of two cameras
    client, refs = small_pages
    # When one camera is opened
    page = client.get("/camera/cam-2").get_data(as_text=True)
    # Then its newest 3 captures show, and no other camera's
    assert tile_ids(page) == [ref.id for ref in refs if ref.device == "cam-2"][:3]


def test_jump_to_a_date_shows_that_day_first(logged_in, s3, settings):
    # Given captures on three days
    day = 86_400_000
    refs = [put_capture(s3, settings.bucket, "cam-1", NOW_MS - n * day, f"d{n}")
            for n in range(3)]
    yesterday = dt.datetime.fromtimestamp((NOW_MS - day) / 1000, dt.UTC).date().isoformat()
    # When the user jumps to yesterday
    page = logged_in.get(f"/?date={yesterday}").get_data(as_text=True)
    # Then yesterday's capture comes first, then older ones
    assert tile_ids(page) == [refs[1].id, refs[2].id]


def test_a_page_costs_one_s3_call_however_many_captures(logged_in, s3, settings):
    # Given 5 captures, then 65 (more than a page)
    calls = S3Calls(s3)
    costs = []
    for start, count in ((0, 5), (5, 60)):
        for i in range(start, start + count):
            put_capture(s3, settings.bucket, "cam-1", NOW_MS - i * 1000, f"n{i}")
        # When the timeline, a camera page and an older page are served
        for path in ("/", "/camera/cam-1", "/?after=" + layout.CaptureRef.new(
                "cam-1", NOW_MS, "n0").meta_key):
            calls.names.clear()
            assert logged_in.get(path).status_code == 200
            costs.append(calls.names)
    # Then each costs exactly one ListObjectsV2, at either size
    assert costs == [["ListObjectsV2"]] * 6


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "status"), [
    ("/?after=meta/garbage", 400),
    ("/?after=thumbs/cam-1/8204741645565_x.jpg", 400),
    ("/camera/cam-1?after=meta/8204741645565_cam-1_x.json", 400),
    ("/?date=31.12.2026", 400),
    ("/?date=" + "9" * 5000, 400),
    ("/camera/Not_A_Camera", 404),
    ("/camera/" + "a" * 40, 404),
    ("/camera/..%2Fusers/live", 404),
    ("/api/camera/BAD!/latest", 404),
    ("/capture/nonsense", 400),
    ("/capture/cam-1_8204741645565_c2", 404),
    ("/capture/cam-1_8204741645565_c2/panel", 404),
    ("/capture/cam-1_8204741645565_c2/download", 404),
    ("/capture/cam-1_123_c2/download", 400),
    ("/api/capture/x%00y/check", 400),
    ("/no/such/page", 404),
])
def test_bad_input_gets_a_friendly_4xx(logged_in, path, status):
    # Given a logged-in user / When a crafted or stale link is opened
    response = logged_in.get(path)
    # Then a 4xx explains it, never a 500
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and ("newest captures" in text or "error" in text)


def test_bad_ids_in_a_delete_or_links_request_are_handled(logged_in):
    # Given a logged-in user with a valid CSRF token
    token = csrf_from(logged_in.get("/").get_data(as_text=True))
    # When a delete names no capture, and the links request mixes bad and good ids
    delete = logged_in.post("/capture/..users_x_y/delete", data={"csrf_token": token})
    links = logged_in.get("/api/links?id=bad&id=cam-1_8204741645565_c2").get_json()
    # Then the delete is a 400 and the links skip the bad id
    assert delete.status_code == 400
    assert list(links["captures"]) == ["cam-1_8204741645565_c2"]


# --- capture view -----------------------------------------------------------------------------

def test_the_panel_shows_time_clock_size_dimensions_quality_and_telemetry(logged_in, s3, settings):
    # Given a processed capture with telemetry
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "facts")
    # When its panel is opened
    panel = logged_in.get(f"/capture/{ref.id}/panel").get_data(as_text=True)
    # Then it shows what the camera owner wants to know
    for fact in ("camera clock (NTP)", "153.0 KB", "1600 × 1200", "brightness 120",
                 "1.4.2", "-61 dBm", "81.2 KB", "Free heap", "RSSI", "Download original", "Delete"):
        assert fact in panel, fact


def test_a_corrupt_capture_is_shown_as_an_error(logged_in, s3, settings):
    # Given a capture whose original could not be decoded
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "broken", status="error")
    # When its page is opened
    page = logged_in.get(f"/capture/{ref.id}").get_data(as_text=True)
    # Then it says so, with the reason
    assert 'role="alert"' in page and "could not be read" in page
    assert "cannot identify image file" in page


def test_download_redirects_to_a_presigned_attachment_of_the_original(logged_in, s3, settings):
    # Given a stored capture
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "dl")
    # When the download link is followed
    response = logged_in.get(f"/capture/{ref.id}/download")
    # Then it redirects to a presigned URL of the original that saves it as a file
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path.endswith(ref.raw_key)
    disposition = parse_qs(location.query)["response-content-disposition"][0]
    assert disposition.startswith('attachment; filename="cam-1_') and "dl" in disposition


def test_delete_removes_the_original_and_everything_made_from_it(logged_in, s3, settings):
    # Given two stored captures
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "bye")
    other = put_capture(s3, settings.bucket, "cam-1", NOW_MS - 1000, "stay")
    token = csrf_from(logged_in.get("/").get_data(as_text=True))
    # When one is deleted from the gallery
    response = logged_in.post(f"/capture/{ref.id}/delete?next=/camera/cam-1",
                              data={"csrf_token": token})
    # Then its original, thumbnail, preview and record are gone, the other capture stays
    assert response.status_code == 303 and response.headers["Location"] == "/camera/cam-1"
    remaining = keys_of(s3, settings.bucket)
    assert not {ref.raw_key, ref.thumb_key, ref.preview_key, ref.meta_key} & remaining
    assert {other.raw_key, other.thumb_key, other.preview_key, other.meta_key} <= remaining
    assert ref.id not in logged_in.get("/").get_data(as_text=True)


def test_delete_never_redirects_off_site(logged_in, s3, settings):
    # Given a capture and a crafted next= pointing to another site
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "evil")
    token = csrf_from(logged_in.get("/").get_data(as_text=True))
    # When the delete is posted
    response = logged_in.post(f"/capture/{ref.id}/delete?next=//evil.example/",
                              data={"csrf_token": token})
    # Then the user lands on the timeline
    assert response.headers["Location"] == "/"


# --- cameras and live view --------------------------------------------------------------------

def test_the_cameras_page_shows_health_stale_cameras_and_errors(logged_in, s3, settings):
    # Given a registered camera that never uploaded, a healthy one uploading every 10 min,
    # and one that stopped an hour ago, with one corrupt capture
    DeviceRegistry(lambda: s3, settings.bucket).add("new-cam", name="Bird feeder")
    for i in range(6):
        put_capture(s3, settings.bucket, "garden", NOW_MS - 60_000 - i * 600_000, f"g{i}")
        put_capture(s3, settings.bucket, "printer", NOW_MS - 3_600_000 - i * 600_000, f"p{i}",
                    status="error" if i == 2 else "ok",
                    telemetry={"firmware": "0.9.1", "rssi": -80, "free_heap": 40_000,
                               "max_alloc_heap": 31_744})
    calls = S3Calls(s3)
    # When the cameras page is opened
    page = logged_in.get("/cameras").get_data(as_text=True)
    # Then every camera is listed with its facts
    cards = dict(re.findall(r'data-device="([^"]+)">(.*?)</li>', page, re.S))
    assert set(cards) == {"garden", "new-cam", "printer"}
    assert "Bird feeder" in cards["new-cam"] and "never" in cards["new-cam"]
    assert "stale" in cards["printer"] and "stale-badge" not in cards["garden"]
    assert "every 10 min" in cards["garden"] and "0.9.1" in cards["printer"]
    assert "-80 dBm" in cards["printer"]
    assert "Largest block</dt><dd>31.7 KB" in cards["printer"]
    assert re.search(r'class="errors has-errors">1<', cards["printer"])
    assert "<svg" in cards["garden"] and "6 in all" in cards["garden"]
    # And it cost a bounded number of S3 calls: 2 listings, then per camera one listing,
    # one registry read, one newest record, and the records not checked before
    lists = calls.names.count("ListObjectsV2")
    assert lists == 2 + 3
    calls.names.clear()
    # And a second visit reads no record it has already seen
    logged_in.get("/cameras")
    # the newest record of each uploading camera, and the open alert incidents (1 GET)
    assert calls.names.count("GetObject") == 3


def test_the_live_view_serves_the_newest_capture(logged_in, s3, settings):
    # Given two captures of one camera
    put_capture(s3, settings.bucket, "cam-1", NOW_MS - 5000, "older")
    newest = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "newer")
    # When the live page and its JSON are read
    page = logged_in.get("/camera/cam-1/live").get_data(as_text=True)
    latest = logged_in.get("/api/camera/cam-1/latest").get_json()
    # Then both show the newest capture's preview
    assert f'data-capture="{newest.id}"' in page and 'data-live="cam-1"' in page
    assert latest["id"] == newest.id and f"/{newest.preview_key}?" in latest["preview"]


def test_pages_send_a_strict_content_security_policy(logged_in, s3, settings):
    # Given a capture, so that images come from the bucket
    put_capture(s3, settings.bucket, "cam-1", NOW_MS, "csp")
    # When the timeline is served
    response = logged_in.get("/")
    # Then scripts come only from the gallery, images from it and the bucket, no referrer leaks
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "img-src 'self' data: https://" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_an_oversized_form_post_is_refused_not_crashed(logged_in):
    # Given a logged-in user / When a form post of a megabyte arrives
    response = logged_in.post("/login", data={"username": "x" * 1_000_000})
    # Then it is refused with 413
    assert response.status_code == 413


def test_behind_nginx_one_guessing_client_does_not_lock_out_the_owner(settings, s3, gallery_user,
                                                                      monkeypatch):
    # Given the production entry point (behind nginx) allowing 2 login attempts at once
    for name, value in {**settings.as_env(), "CAMCLOUD_GALLERY_LOGIN_BURST": "2"}.items():
        monkeypatch.setenv(name, value)
    import gallery.wsgi

    app = importlib.reload(gallery.wsgi).app
    attacker, owner = Client(app), Client(app)

    def attempt(client: Client, address: str, user: str, password: str) -> int:
        headers = {"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}
        token = csrf_from(client.get("/login", headers=headers).get_data(as_text=True))
        return client.post("/login", headers=headers, data={
            "username": user, "password": password, "csrf_token": token}).status_code

    # When one address guesses passwords for several names until it is stopped
    guesses = [attempt(attacker, "203.0.113.9", f"user{i}", "guess-guess") for i in range(3)]
    # Then it is stopped, and the owner, from their own address, still logs in
    assert guesses == [401, 401, 429]
    assert attempt(owner, "198.51.100.7", *gallery_user) == 302
