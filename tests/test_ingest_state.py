"""Protocol v1.1 at the ingest: the desired state in every answer, check-ins, report-back.

Service-level tests run ``Ingest.accept`` / ``Ingest.check_in`` on a clock the test moves,
against moto's server with every S3 request counted; HTTP tests go through the Flask app.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import urllib3
from werkzeug.datastructures import Headers

from camcloud import device_state, firmware_release
from camcloud.s3 import make_client
from ingest.service import Outcome, Request
from ingest.wiring import Services, build_services, make_ingest_client
from tests.conftest import jpeg_bytes
from tests.ingest_support import (
    Bucket,
    FakeClock,
    FaultProxy,
    LiveIngest,
    post,
    upload_request,
)

DEVICE = "cam-1"
IMAGE = b"\xe9\x06\x02\x20" + bytes(range(256)) * 16


class Calls:
    """Every S3 request a client makes, by operation name."""

    def __init__(self, client: Any) -> None:
        self.names: list[str] = []
        client.meta.events.register("before-call.s3", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)

    def since(self, mark: int) -> Counter[str]:
        """The requests made after ``mark`` (a previous ``len(calls.names)``)."""
        return Counter(self.names[mark:])


def counted_services(bucket: Bucket, clock: FakeClock,
                     endpoint: str | None = None) -> tuple[Services, Calls]:
    """The ingest's services on the fake clock with a client whose S3 requests are counted."""
    settings = bucket.settings
    if endpoint is not None:
        settings = settings.with_changes(s3_endpoint=endpoint)
    client = make_ingest_client(settings)
    return build_services(settings, client, clock.clock()), Calls(client)


def check_in(services: Services, key: str | None, headers: dict[str, str] | None = None,
             *, api_key: bool = False) -> Outcome:
    """A service-level ``GET /device/state``."""
    sent = Headers(headers or {})
    if key is not None:
        sent["X-Api-Key" if api_key else "Authorization"] = key if api_key else f"Bearer {key}"
    return services.ingest.check_in(Request(sent, io.BytesIO(b""), "192.0.2.10"))


def upload(services: Services, key: str, capture_id: str,
           headers: dict[str, str] | None = None) -> Outcome:
    """A service-level upload of a small JPEG."""
    body = jpeg_bytes(colour=(len(capture_id) * 7 % 255, 20, 30))
    return services.ingest.accept(
        upload_request(body, {"X-Capture-Id": capture_id, **(headers or {})}, key=key))


def test_every_upload_answer_carries_the_desired_state(ingest_bucket: Bucket,
                                                       fault_proxy: FaultProxy) -> None:
    # Given a camera whose owner set an interval and asked for a capture
    key = ingest_bucket.add_device(DEVICE)
    client = ingest_bucket.client
    device_state.set_config(client, ingest_bucket.settings.bucket, DEVICE, interval_s=60)
    command = device_state.request_capture(client, ingest_bucket.settings.bucket, DEVICE,
                                           now=FakeClock().wall, new_id=lambda: "capid")
    clock = FakeClock()
    services, _ = counted_services(ingest_bucket, clock, fault_proxy.url)
    # When it uploads (stored), uploads the same capture again (duplicate), and uploads while
    # S3 is unreachable (spooled)
    stored = upload(services, key, "one")
    duplicate = upload(services, key, "one")
    fault_proxy.set_mode("refuse")
    queued = upload(services, key, "two")
    # Then all three answers carry the state: config version 1, the pending capture-now
    assert [stored.status, duplicate.status, queued.status] == [201, 200, 202]
    for outcome in (stored, duplicate, queued):
        state = outcome.body["state"]
        assert state["config"]["version"] == 1 and state["config"]["interval_s"] == 60
        assert state["commands"] == [{"id": command.id, "type": "capture"}]
        assert state["firmware"] is None


def test_a_check_in_records_a_report_once_and_then_costs_no_write(
        ingest_bucket: Bucket) -> None:
    # Given a camera with config version 1 that checked in once (its record is fresh)
    key = ingest_bucket.add_device(DEVICE)
    bucket = ingest_bucket.settings.bucket
    device_state.set_config(ingest_bucket.client, bucket, DEVICE, interval_s=60)
    clock = FakeClock()
    services, calls = counted_services(ingest_bucket, clock)
    report = {"X-Config-Version": "1", "X-Firmware": "1.0.0"}
    # When it reports applying version 1
    mark = len(calls.names)
    first = check_in(services, key, report)
    first_calls = calls.since(mark)
    # Then the report is written once (GET record, GET for the ETag, conditional PUT)...
    assert first.status == 200
    assert first_calls["PutObject"] == 1
    state = device_state.read_state(ingest_bucket.client, bucket, DEVICE)
    assert state.applied.config_version == 1 and state.firmware.running == "1.0.0"
    # ...and the same report again, on a check-in and on an upload, writes nothing more
    clock.advance(10)
    mark = len(calls.names)
    assert check_in(services, key, report).status == 200
    again = calls.since(mark)
    assert again["PutObject"] == 0 and sum(again.values()) == 1  # the check-in's fresh read
    mark = len(calls.names)
    stamped = {**report, "X-Captured-At": str(int(clock.wall.timestamp()))}
    assert upload(services, key, "after", stamped).status == 201
    # the capture's reservation and the capture itself, no state write
    assert calls.since(mark)["PutObject"] == 2


def test_an_upload_without_report_headers_costs_no_state_request(ingest_bucket: Bucket) -> None:
    # Given a v1 camera (no report headers) whose record the ingest already holds
    key = ingest_bucket.add_device(DEVICE)
    clock = FakeClock()
    services, calls = counted_services(ingest_bucket, clock)
    assert upload(services, key, "first").status == 201
    # When it uploads again within the caches' lifetime
    mark = len(calls.names)
    outcome = upload(services, key, "second", {"X-Captured-At": str(int(clock.wall.timestamp()))})
    # Then the S3 requests are the capture's: its ids/ reservation and its original (two
    # PutObjects), and the answer has the default state
    assert outcome.status == 201
    assert calls.since(mark) == Counter({"PutObject": 2})
    assert outcome.body["state"]["config"]["version"] == 0


def test_capture_now_goes_from_pending_to_done_with_its_capture(ingest_bucket: Bucket) -> None:
    # Given a capture-now the owner requested
    key = ingest_bucket.add_device(DEVICE)
    bucket = ingest_bucket.settings.bucket
    clock = FakeClock()
    device_state.request_capture(ingest_bucket.client, bucket, DEVICE, now=clock.wall,
                                 new_id=lambda: "capid")
    services, _ = counted_services(ingest_bucket, clock)
    # When the camera checks in, it is told to capture
    told = check_in(services, key)
    assert told.body["state"]["commands"] == [{"id": "capid", "type": "capture"}]
    # ...and its upload reports the command done with the capture it made
    done = upload(services, key, "snap-1", {"X-Commands-Done": "capid=snap-1"})
    # Then the command is done with that capture and no longer in the state
    assert done.status == 201 and done.body["state"]["commands"] == []
    state = device_state.read_state(ingest_bucket.client, bucket, DEVICE)
    assert state.pending == [] and state.commands[0].capture_id == "snap-1"
    clock.advance(10)
    assert check_in(services, key).body["state"]["commands"] == []


def test_a_config_change_reaches_the_camera_at_its_next_check_in(ingest_bucket: Bucket) -> None:
    # Given a camera checking in every 10 s (the shortest checkin_s), seen a moment ago
    key = ingest_bucket.add_device(DEVICE)
    clock = FakeClock()
    services, _ = counted_services(ingest_bucket, clock)
    assert upload(services, key, "warm").body["state"]["config"]["version"] == 0
    assert check_in(services, key).body["state"]["config"]["version"] == 0
    # When the owner changes its settings right after
    device_state.set_config(ingest_bucket.client, ingest_bucket.settings.bucket, DEVICE,
                            image_mode="vga")
    # Then the very next check-in, one period later, carries the new config
    clock.advance(10)
    config = check_in(services, key).body["state"]["config"]
    assert config["version"] == 1 and config["image_mode"] == "vga"


def test_unknown_report_values_are_ignored_without_a_write(ingest_bucket: Bucket) -> None:
    # Given a camera that reports nonsense in every report header
    key = ingest_bucket.add_device(DEVICE)
    clock = FakeClock()
    services, calls = counted_services(ingest_bucket, clock)
    nonsense = {"X-Config-Version": "banana", "X-Commands-Done": "nosuchid,$$$",
                "X-Ota-Result": "maybe", "X-Firmware": "\x01bad version\x02"}
    # When it checks in and uploads with them
    mark = len(calls.names)
    checked = check_in(services, key, nonsense)
    uploaded = upload(services, key, "odd",
                      {**nonsense, "X-Captured-At": str(int(clock.wall.timestamp()))})
    # Then both are answered normally and nothing was written but the capture (its
    # reservation and its original)
    assert checked.status == 200 and uploaded.status == 201
    assert calls.since(mark)["PutObject"] == 2
    state = device_state.read_state(ingest_bucket.client, ingest_bucket.settings.bucket, DEVICE)
    assert state.applied.config_version is None and state.firmware.running is None


def test_an_update_is_offered_only_to_the_cameras_in_the_rollout(ingest_bucket: Bucket,
                                                                 tmp_path: Path) -> None:
    # Given two cameras on 1.0.0 and a release 1.1.0 published for cam-1 only
    keys = {name: ingest_bucket.add_device(name) for name in ("cam-1", "cam-2")}
    firmware_release.keygen(tmp_path / "fw.key")
    image = tmp_path / "firmware.bin"
    image.write_bytes(IMAGE)
    clock = FakeClock()
    firmware_release.publish(ingest_bucket.client, ingest_bucket.settings.bucket, image, "1.1.0",
                             firmware_release.load_private_key(tmp_path / "fw.key"),
                             now=clock.wall, devices=["cam-1"])
    services, _ = counted_services(ingest_bucket, clock)
    # When both check in saying what they run
    answers = {name: check_in(services, key, {"X-Firmware": "1.0.0"}).body["state"]
               for name, key in keys.items()}
    # Then cam-1 is offered the signed image with a presigned URL, cam-2 nothing
    offer = answers["cam-1"]["firmware"]
    assert offer["version"] == "1.1.0" and offer["size"] == len(IMAGE)
    assert "firmware/1.1.0/" in offer["url"] and offer["signature"]
    assert answers["cam-2"]["firmware"] is None
    # ...and a failed attempt reported by cam-1 is noted for the alerts (urgent)
    clock.advance(10)
    check_in(services, keys["cam-1"], {"X-Firmware": "1.0.0", "X-Ota-Result": "failed:sha256"})
    ota = services.status.document()["cameras"]["cam-1"]["ota"]
    assert ota["result"] == "failed:sha256" and ota["version"] == "1.1.0"


def test_check_in_is_answered_when_s3_is_down_from_the_record_it_holds(
        ingest_bucket: Bucket, fault_proxy: FaultProxy) -> None:
    # Given a camera with a config, seen while S3 was up
    key = ingest_bucket.add_device(DEVICE)
    device_state.set_config(ingest_bucket.client, ingest_bucket.settings.bucket, DEVICE,
                            interval_s=120)
    clock = FakeClock()
    services, _ = counted_services(ingest_bucket, clock, fault_proxy.url)
    assert upload(services, key, "up").status == 201
    # When S3 becomes unreachable and the camera uploads (spooled) and reports
    fault_proxy.set_mode("refuse")
    queued = upload(services, key, "down", {"X-Config-Version": "1"})
    # Then the 202 carries the state built from the cached record, never an error
    assert queued.status == 202
    assert queued.body["state"]["config"]["interval_s"] == 120
    # ...and a check-in (which would read the record fresh) is answered from it too
    clock.advance(10)
    checked = check_in(services, key, {"X-Config-Version": "1"})
    assert checked.status == 200 and checked.body["state"]["config"]["interval_s"] == 120
    # ...and once S3 is back, a camera that only checks in gets its report recorded
    fault_proxy.set_mode("pass")
    clock.advance(services.health.open_seconds + 1)
    assert check_in(services, key, {"X-Config-Version": "1"}).status == 200
    state = device_state.read_state(ingest_bucket.client, ingest_bucket.settings.bucket, DEVICE)
    assert state.applied.config_version == 1
    assert services.health.open is False


def http_get_state(url: str, headers: dict[str, str]) -> Any:
    """``GET /device/state`` over HTTP."""
    http = urllib3.PoolManager(retries=False, timeout=10.0)
    return http.request("GET", url + "/device/state", headers=headers)


def test_device_state_over_http_authenticates_like_uploads(ingest_bucket: Bucket) -> None:
    # Given a camera with a config, another whose key was revoked, and the ingest over HTTP
    key = ingest_bucket.add_device(DEVICE)
    revoked = ingest_bucket.add_device("old-cam")
    ingest_bucket.registry.revoke("old-cam")
    device_state.set_config(ingest_bucket.client, ingest_bucket.settings.bucket, DEVICE,
                            checkin_s=30)
    with LiveIngest(ingest_bucket.settings) as live:
        # When the cameras check in with Bearer, X-Api-Key, a bad key, no key, a revoked key
        bearer = http_get_state(live.url, {"Authorization": f"Bearer {key}"})
        api_key = http_get_state(live.url, {"X-Api-Key": key})
        bad = http_get_state(live.url, {"Authorization": f"Bearer {key}x"})
        missing = http_get_state(live.url, {})
        gone = http_get_state(live.url, {"Authorization": f"Bearer {revoked}"})
        # ...and an upload answer over HTTP carries the same state
        http = urllib3.PoolManager(retries=False, timeout=10.0)
        uploaded = post(http, live.url, key, jpeg_bytes())
    # Then: 200 with the state, 401 for bad or no key, 403 for the revoked one
    assert bearer.status == 200 and api_key.status == 200
    assert json.loads(bearer.data)["state"]["config"]["checkin_s"] == 30
    assert json.loads(api_key.data) == json.loads(bearer.data)
    assert (bad.status, json.loads(bad.data)["error"]) == (401, "bad_key")
    assert missing.status == 401
    assert (gone.status, json.loads(gone.data)["error"]) == (403, "revoked")
    assert uploaded.status == 201
    assert json.loads(uploaded.data)["state"] == json.loads(bearer.data)["state"]


def test_check_ins_are_rate_limited_like_uploads(ingest_bucket: Bucket) -> None:
    # Given an ingest allowing a burst of 2 requests per device
    key = ingest_bucket.add_device(DEVICE)
    clock = FakeClock()
    settings = ingest_bucket.settings.with_changes(rate_per_minute=1.0, rate_burst=2)
    services = build_services(settings, make_client(settings), clock.clock())
    # When the camera checks in three times at once
    statuses = [check_in(services, key).status for _ in range(3)]
    # Then the third waits, told when to retry
    assert statuses == [200, 200, 429]
    assert "Retry-After" in check_in(services, key).headers


def test_the_status_summary_is_written_by_the_recorder_with_bounded_writes(
        ingest_bucket: Bucket) -> None:
    # Given a camera uploading every 10 s and checking in between, for 20 minutes
    key = ingest_bucket.add_device(DEVICE)
    clock = FakeClock()
    services, _ = counted_services(ingest_bucket, clock)
    for step in range(120):
        upload(services, key, f"c-{step}")
        clock.advance(5)
        check_in(services, key)
        clock.advance(5)
        # the drainer's tick, as the background thread runs it every few seconds
        services.tick()
    # Then the summary was written at most once per 5 minutes (plus the first), not per upload
    assert 1 <= services.status.writes <= 1 + 20 * 60 // 300
    # ...and the last write at stop holds every upload and the check-ins
    services.flush_status()
    document = json.loads(ingest_bucket.get(services.status.key)["Body"].read())
    camera = document["cameras"][DEVICE]
    assert camera["uploads"] == 120 and camera["last_checkin"] is not None


def test_the_status_summary_carries_the_configured_active_hours(ingest_bucket: Bucket) -> None:
    # Given a day-only camera (its settings set on the server before it uploads)
    key = ingest_bucket.add_device(DEVICE)
    device_state.set_config(ingest_bucket.client, ingest_bucket.settings.bucket, DEVICE,
                            interval_s=120, active_hours="06:30-20:00")
    services, _ = counted_services(ingest_bucket, FakeClock())
    # When it uploads
    assert upload(services, key, "day").status == 201
    # Then the alerts learn its schedule from the summary: no silence alarm at night
    camera = services.status.document()["cameras"][DEVICE]
    assert camera["interval_s"] == 120 and camera["active_hours"] == "06:30-20:00"
