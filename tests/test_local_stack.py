"""End to end through the local stack: ingest -> S3 -> SQS -> handler -> gallery -> S3 URLs."""

from __future__ import annotations

import html
import re
import shlex
import subprocess
import time
from typing import Any

import pytest
import urllib3
from click.testing import CliRunner

from camcloud import layout
from camcloud.devices import DeviceRegistry
from camcloud_cli import main as cli
from tests.conftest import jpeg_bytes

pytestmark = pytest.mark.stack


def all_keys(stack: Any) -> list[str]:
    """Every key in the local bucket."""
    paginator = stack.s3.get_paginator("list_objects_v2")
    return [
        item["Key"]
        for page in paginator.paginate(Bucket=stack.bucket)
        for item in page.get("Contents", [])
    ]


def login(stack: Any) -> tuple[urllib3.PoolManager, dict[str, str]]:
    """Log in to the gallery over HTTP as the stack's generated user; returns the cookie."""
    http = urllib3.PoolManager()
    page = http.request("GET", stack.info["gallery_url"] + "login")
    cookie = page.headers["Set-Cookie"].split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.data.decode()).group(1)
    response = http.request(
        "POST",
        stack.info["gallery_url"] + "login",
        fields={"username": stack.info["gallery_user"],
                "password": stack.info["gallery_password"], "csrf_token": token},
        encode_multipart=False,
        headers={"Cookie": cookie},
        redirect=False,
    )
    assert response.status == 302, response.data
    return http, {"Cookie": response.headers["Set-Cookie"].split(";")[0]}


def wait_for_gallery(stack: Any, needle: str, timeout: float = 10.0) -> str:
    """Poll the gallery's first page until ``needle`` shows up; return the page."""
    http, headers = login(stack)
    deadline = time.monotonic() + timeout
    while True:
        page = http.request("GET", stack.info["gallery_url"], headers=headers).data.decode()
        if needle in page or time.monotonic() > deadline:
            return page
        time.sleep(0.1)


def upload_and_wait_for_record(stack: Any, capture_id: str) -> layout.CaptureRef:
    """Upload a JPEG as the demo camera and wait until the worker has written its record."""
    key = stack.info["devices"]["demo-cam"]
    response = urllib3.request("POST", stack.info["upload_url"], body=jpeg_bytes(), headers={
        "Content-Type": "image/jpeg", "Authorization": f"Bearer {key}",
        "X-Capture-Id": capture_id})
    ref = layout.parse_key(response.json()["key"])
    deadline = time.monotonic() + 10
    while ref.meta_key not in all_keys(stack) and time.monotonic() < deadline:
        time.sleep(0.1)
    return ref


def test_the_banner_curl_command_uploads_and_the_gallery_shows_the_thumbnail(local_stack, tmp_path):
    # Given the local stack and a JPEG on disk
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(1600, 1200, (30, 120, 60)))
    banner = local_stack.banner()
    command = "\n".join(line for line in banner.splitlines() if line.strip().startswith(("curl",
                        "--data-binary")))
    command = command.replace("\\\n", " ").replace("@photo.jpg", f"@{photo}")
    # When the banner's curl command is run as printed
    started = time.monotonic()
    result = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=30,
                            check=True)
    # Then the ingest answers 201 with the stored key
    assert '"key":"raw/demo-cam/' in result.stdout, result.stdout
    key = re.search(r'"key":"([^"]+)"', result.stdout).group(1)
    ref = layout.parse_key(key)
    # And the gallery, after login, shows its thumbnail
    page = wait_for_gallery(local_stack, ref.id)
    latency = time.monotonic() - started
    assert f'data-capture="{ref.id}"' in page, page
    print(f"upload -> gallery in {latency:.2f} s")
    # And the thumbnail's presigned URL returns the thumbnail bytes
    urls = [html.unescape(u) for u in re.findall(r'<img src="([^"]+)"', page)]
    thumb_url = next(u for u in urls if f"/thumbs/demo-cam/{ref.stem}.jpg" in u)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in thumb_url
    fetched = urllib3.request("GET", thumb_url)
    stored = local_stack.s3.get_object(Bucket=local_stack.bucket, Key=ref.thumb_key)["Body"].read()
    assert fetched.status == 200
    assert fetched.data == stored and fetched.data[:2] == b"\xff\xd8"


def test_uploads_without_a_key_or_not_a_jpeg_are_refused_and_write_nothing(local_stack):
    # Given the bucket as it is
    before = set(all_keys(local_stack))
    key = local_stack.info["devices"]["demo-cam"]
    url = local_stack.info["upload_url"]
    # When a request comes without a key, and another with a PNG
    no_key = urllib3.request("POST", url, body=jpeg_bytes(), headers={
        "Content-Type": "image/jpeg"})
    not_jpeg = urllib3.request("POST", url, body=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, headers={
        "Content-Type": "image/jpeg", "Authorization": f"Bearer {key}"})
    # Then each gets its status and a JSON error, and nothing is written
    assert no_key.status == 401 and no_key.json()["error"] == "missing_key"
    assert not_jpeg.status == 400 and not_jpeg.json()["error"] == "not_jpeg"
    # (a barrier, not a fixed sleep: once a good upload sent after them is fully processed,
    # anything the refused ones had set in motion would have landed too)
    ref = upload_and_wait_for_record(local_stack, "after-refusals")
    written = set(all_keys(local_stack)) - before
    assert {ref.raw_key, ref.thumb_key, ref.preview_key, ref.meta_key} <= written
    # (status/ holds the writers' last-seen summaries for the alert check: written on their
    # own timer whatever the requests, so not something a refused upload wrote)
    assert {key for key in written if "after-refusals" not in key and not key.startswith(
        ("ids/", "status/"))} == set()


def test_simulated_camera_with_retries_leaves_exactly_its_captures(local_stack):
    # Given a second camera registered in the local stack
    _, key = DeviceRegistry(lambda: local_stack.s3, local_stack.bucket).add("sim-cam")
    # When the simulator sends 20 captures, resending half of them as a camera does after a
    # lost response
    result = CliRunner().invoke(cli, [
        "simulate", "--url", local_stack.info["upload_url"], "--key", key, "--count", "20",
        "--size", "320x240", "--resend-probability", "0.5", "--seed", "7"])
    # Then 20 are stored, the resends are recognised as duplicates
    assert result.exit_code == 0, result.output
    assert "stored 20," in result.output
    assert "duplicates 0," not in result.output
    # And the gallery's camera has exactly 20 originals, thumbnails and records
    deadline = time.monotonic() + 15
    while True:
        records = [r for r in local_stack.records() if r["device"] == "sim-cam"]
        if len(records) >= 20 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    keys = all_keys(local_stack)
    assert len([k for k in keys if k.startswith("raw/sim-cam/")]) == 20
    assert len([k for k in keys if k.startswith("thumbs/sim-cam/")]) == 20
    assert len(records) == 20
    assert len({r["capture_id"] for r in records}) == 20


def test_the_worker_removes_derived_objects_when_an_original_is_deleted(local_stack):
    # Given a processed capture
    ref = upload_and_wait_for_record(local_stack, "delete-me")
    assert ref.meta_key in all_keys(local_stack)
    # When its original is deleted
    local_stack.s3.delete_object(Bucket=local_stack.bucket, Key=ref.raw_key)
    # Then the ObjectRemoved event removes thumbnail, preview and record
    derived = {ref.meta_key, ref.thumb_key, ref.preview_key}
    deadline = time.monotonic() + 10
    while derived & set(all_keys(local_stack)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not derived & set(all_keys(local_stack))
