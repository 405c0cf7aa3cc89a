"""The device protocol over real HTTP: every request form and every status row of
docs/protocol.md."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from camcloud.settings import Settings
from camcloud.simulate import make_frame
from ingest import logs
from ingest.logs import JsonFormatter
from ingest.s3put import FastPut
from ingest.wiring import make_ingest_client
from tests.conftest import jpeg_bytes
from tests.hostile_jpegs import fill_floods, scan_bombs
from tests.ingest_support import (
    Bucket,
    FakeClock,
    LiveIngest,
    new_bucket,
    post,
    raw_request,
    wait_for,
)

DEVICE = "cam-1"


class Stack:
    """A bucket with a registered camera and the ingest serving it over HTTP."""

    def __init__(self, bucket: Bucket, live: LiveIngest, key: str) -> None:
        self.bucket = bucket
        self.live = live
        self.key = key
        self.http = urllib3.PoolManager(retries=False, timeout=10.0)

    def post(self, body: Any = None, headers: dict[str, str | None] | None = None,
             **kwargs: Any) -> Any:
        """POST /upload with the camera's key and ``headers``."""
        return post(self.http, self.live.url, self.key, body, headers, **kwargs)

    def stored(self) -> list[str]:
        """Every object the ingest wrote (originals and reservations)."""
        return self.bucket.raw_keys("raw/") + self.bucket.raw_keys("ids/")


@contextmanager
def fresh_stack(endpoint: str, spool_dir: Path, clock: FakeClock | None = None,
                client: Any = None, **overrides: Any) -> Iterator[Stack]:
    """A new bucket with the camera registered and an ingest of its own, stopped after."""
    bucket = new_bucket(endpoint, spool_dir, **overrides)
    key = bucket.add_device(DEVICE)
    with LiveIngest(bucket.settings, client,
                    clock=clock.clock() if clock else None) as live:
        yield Stack(bucket, live, key)


@pytest.fixture
def make_stack(moto_endpoint: str, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Build a Stack with settings overrides (and a ``clock``); stopped after the test."""
    with ExitStack() as stacks:

        def make(clock: FakeClock | None = None, **overrides: Any) -> Stack:
            spool_dir = tmp_path / f"spool-{uuid.uuid4().hex[:8]}"
            return stacks.enter_context(fresh_stack(moto_endpoint, spool_dir, clock, **overrides))

        yield make


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """The default stack."""
    return make_stack()


def error_of(response: Any) -> str:
    """The protocol error code of a JSON error response."""
    document = json.loads(response.data)
    assert set(document) == {"error", "message"}, document
    return str(document["error"])


def esp32_request(port: int, key: str, body: bytes, extra: list[tuple[str, str]]) -> bytes:
    """A request byte for byte as arduino-esp32's HTTPClient writes it.

    ``HTTPClient::sendHeader`` writes the request line, ``Host`` (with the port unless 80/443),
    ``User-Agent: ESP32HTTPClient``, ``Connection: keep-alive`` (reuse is on by default) and
    its fixed ``Accept-Encoding``; then the headers the sketch added with ``addHeader`` in
    order; ``sendRequest`` adds ``Content-Length`` last; then the payload, raw.
    """
    lines = [
        "POST /upload HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "User-Agent: ESP32HTTPClient",
        "Connection: keep-alive",
        "Accept-Encoding: identity;q=1,chunked;q=0.1,*;q=0",
        "Content-Type: image/jpeg",
        f"Authorization: Bearer {key}",
        *[f"{name}: {value}" for name, value in extra],
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the first HTTP response in ``raw``."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(rest)))
    return status, headers, rest[:length]


# --- accepted uploads -------------------------------------------------------------------


def test_raw_upload_is_stored_with_padding_trimmed_and_telemetry(stack: Stack) -> None:
    # Given a JPEG followed by SPI FIFO padding, with device time and telemetry
    image = jpeg_bytes()
    headers = {"X-Capture-Id": "aa-1", "X-Captured-At": "2024-05-01T12:00:00Z",
               "X-Firmware": "cam/1.2", "X-RSSI": "-67", "X-Free-Heap": "120000",
               "X-Max-Alloc-Heap": "65524", "X-Boot-Count": "7", "X-Reset-Reason": "POWERON",
               "X-Uptime": "3600"}
    # When it is uploaded
    response = stack.post(image + b"\x00" * 4096, headers)
    # Then it is stored once, trimmed, with its metadata, at the deterministic key
    assert response.status == 201, response.data
    document = json.loads(response.data)
    assert document["bytes"] == len(image)
    assert document["clock"] == "device"
    assert document["key"].startswith(f"raw/{DEVICE}/") and document["key"].endswith("_aa-1.jpg")
    stored = stack.bucket.get(document["key"])
    assert stored["Body"].read() == image
    metadata = stored["Metadata"]
    assert metadata["clock"] == "device" and metadata["t-rssi"] == "-67"
    assert metadata["t-firmware"] == "cam/1.2" and metadata["sha256"] == document["sha256"]
    assert metadata["t-max-alloc-heap"] == "65524"


def test_retry_with_same_capture_id_is_a_duplicate(make_stack: Callable[..., Stack]) -> None:
    clock = FakeClock()
    stack = make_stack(clock)
    image = jpeg_bytes()
    first = stack.post(image, {"X-Capture-Id": "cap-7"})
    clock.advance(1.0)  # the retry arrives later: the server clock says another time
    again = stack.post(image, {"X-Capture-Id": "cap-7"})
    assert first.status == 201 and again.status == 200
    assert json.loads(again.data)["duplicate"] is True
    assert json.loads(again.data)["key"] == json.loads(first.data)["key"]
    assert len(stack.bucket.raw_keys()) == 1


def test_same_bytes_without_capture_id_are_a_duplicate(stack: Stack) -> None:
    image = jpeg_bytes(colour=(1, 2, 3))
    first = stack.post(image)
    again = stack.post(image + b"\xff\x00padding")
    assert (first.status, again.status) == (201, 200)
    assert json.loads(first.data)["id"] == json.loads(first.data)["sha256"]
    assert len(stack.bucket.raw_keys()) == 1


def test_x_api_key_and_matching_device_id_are_accepted(stack: Stack) -> None:
    response = stack.post(jpeg_bytes(), {"Authorization": None, "X-Api-Key": stack.key,
                                         "X-Device-Id": DEVICE})
    assert response.status == 201


def test_implausible_capture_time_falls_back_to_the_server_clock(stack: Stack) -> None:
    values = ("1999-01-01T00:00:00Z", "0", str(int(time.time()) + 3600))
    for index, value in enumerate(values):
        response = stack.post(jpeg_bytes(), {"X-Captured-At": value, "X-Capture-Id": f"t{index}"})
        assert response.status == 201
        assert json.loads(response.data)["clock"] == "server"


def test_unix_seconds_capture_time_is_the_device_clock(stack: Stack) -> None:
    response = stack.post(jpeg_bytes(), {"X-Captured-At": "1714564800"})
    assert response.status == 201
    assert json.loads(response.data)["captured_at"].startswith("2024-05-01T12:00:00")


def test_esp32_httpclient_bytes_are_accepted(stack: Stack) -> None:
    # Given the exact bytes an ESP32 sketch sends with http.POST(buf, len)
    image = jpeg_bytes()
    request = esp32_request(stack.live.port, stack.key, image + b"\x00" * 512,
                            [("X-Capture-Id", "a4cf12-3-17"), ("X-RSSI", "-58")])
    # When they arrive on a raw socket
    status, headers, body = parse_response(raw_request(stack.live.port, request))
    # Then the capture is stored and the answer is JSON the firmware can read
    assert status == 201, body
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["bytes"] == len(image)
    assert stack.bucket.get(json.loads(body)["key"])["Body"].read() == image


def test_chunked_upload_is_accepted(stack: Stack) -> None:
    image = jpeg_bytes()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(image), 700):
            yield image[start : start + 700]

    response = stack.post(chunks(), {"X-Capture-Id": "chunked-1"}, chunked=True)
    assert response.status == 201, response.data
    assert stack.bucket.get(json.loads(response.data)["key"])["Body"].read() == image


def test_chunked_upload_on_a_raw_socket(stack: Stack) -> None:
    image = jpeg_bytes()
    head = (f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {stack.key}\r\n"
            "Content-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    body = b"".join(b"%x\r\n%s\r\n" % (len(image[i:i + 1000]), image[i:i + 1000])
                    for i in range(0, len(image), 1000)) + b"0\r\n\r\n"
    status, _, answer = parse_response(raw_request(stack.live.port, head.encode() + body))
    assert status == 201, answer


def test_multipart_upload_is_accepted(stack: Stack) -> None:
    # Given a form like the ESP32-CAM sketches send: a text field and one file part
    image = jpeg_bytes()
    response = stack.http.request(
        "POST", stack.live.url + "/upload",
        fields={"note": "garden", "imageFile": ("esp32-cam.jpg", image + b"\x00" * 64,
                                                "image/jpeg")},
        headers={"Authorization": f"Bearer {stack.key}", "X-Capture-Id": "mp-1"},
    )
    assert response.status == 201, response.data
    stored = stack.bucket.get(json.loads(response.data)["key"])["Body"].read()
    assert stored == image


def test_large_upload_goes_through_a_file_and_is_stored(stack: Stack) -> None:
    # Given an image over the in-memory threshold (2.5 MiB of scan data)
    image = jpeg_bytes(1600, 1200, quality=100)
    big = image[:-2] + b"\x00" * (5 * 1024 * 512) + b"\xff\xd9"
    response = stack.post(big + b"\x00" * 10, {"X-Capture-Id": "big-1"})
    assert response.status == 201, response.data
    assert stack.bucket.get(json.loads(response.data)["key"])["Body"].read() == big
    assert list(Path(stack.live.services.ingest.tmp_dir).iterdir()) == []


# --- refused uploads: nothing reaches S3 --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"", {}, 400, "empty"),
        (b"hello, not an image", {}, 400, "not_jpeg"),
        (None, {}, 400, "truncated"),  # filled in below: a JPEG cut short
        (b"x", {"X-Capture-Id": "bad id!"}, 400, "bad_capture_id"),
        (b"x", {"X-Capture-Id": "a" * 65}, 400, "bad_capture_id"),
        (b"x", {"X-Captured-At": "yesterday"}, 400, "bad_captured_at"),
        (b"x", {"X-Captured-At": "2024-05-01T12:00:00"}, 400, "bad_captured_at"),
        (b"x", {"X-Captured-At": "99999999999999999999"}, 400, "bad_captured_at"),
        (b"x", {"Authorization": None}, 401, "missing_key"),
        (b"x", {"Authorization": "Bearer cc1_cam-1_wrongsecret"}, 401, "bad_key"),
        (b"x", {"Authorization": "Bearer not-a-camcloud-key"}, 401, "bad_key"),
        (b"x", {"Authorization": "Basic dXNlcjpwYXNz"}, 401, "missing_key"),
        (b"x", {"X-Device-Id": "cam-2"}, 403, "device_mismatch"),
        (b"x", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b"x", {"Content-Type": "multipart/form-data"}, 400, "bad_multipart"),
    ],
)
def test_refused_uploads(stack: Stack, body: bytes | None, headers: dict[str, str], status: int,
                         code: str) -> None:
    if body is None:
        body = jpeg_bytes()[:-200]
    response = stack.post(body, headers)
    assert response.status == status, response.data
    assert error_of(response) == code
    assert stack.stored() == []


def test_revoked_key_is_refused_within_the_cache_time(make_stack: Callable[..., Stack]) -> None:
    # Given a camera whose key is cached for half a second
    clock = FakeClock()
    stack = make_stack(clock, key_cache_seconds=0.5)
    assert stack.post(jpeg_bytes(), {"X-Capture-Id": "before"}).status == 201
    # When its key is revoked, and the cache time passes
    stack.bucket.registry.revoke(DEVICE)
    clock.advance(0.6)
    # Then its uploads are refused
    response = stack.post(jpeg_bytes(), {"X-Capture-Id": "after"})
    assert response.status == 403 and error_of(response) == "revoked"


def test_rate_limit_answers_429_with_retry_after(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(rate_per_minute=1.0, rate_burst=2)
    statuses = [stack.post(jpeg_bytes(), {"X-Capture-Id": f"r{i}"}).status for i in range(2)]
    limited = stack.post(jpeg_bytes(), {"X-Capture-Id": "r3"})
    assert statuses == [201, 201]
    assert limited.status == 429 and error_of(limited) == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1


def test_declared_length_over_the_limit_is_413_before_reading(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(max_upload_bytes=100_000)
    head = (f"POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {stack.key}\r\n"
            "Content-Type: image/jpeg\r\nContent-Length: 100001\r\nConnection: close\r\n\r\n")
    status, _, body = parse_response(raw_request(stack.live.port, head.encode() + b"\xff\xd8"))
    assert status == 413 and json.loads(body)["error"] == "too_large"
    assert stack.stored() == []


def test_chunked_body_over_the_limit_is_413(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(max_upload_bytes=100_000)

    def endless() -> Iterator[bytes]:
        yield b"\xff\xd8"
        for _ in range(30):
            yield b"\x00" * 8192

    response = stack.post(endless(), chunked=True)
    assert response.status == 413 and error_of(response) == "too_large"
    assert stack.stored() == []


def test_multipart_file_over_the_limit_is_413(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(max_upload_bytes=100_000)
    response = stack.http.request(
        "POST", stack.live.url + "/upload",
        fields={"file": ("a.jpg", b"\xff\xd8" + b"\x00" * 150_000, "image/jpeg")},
        headers={"Authorization": f"Bearer {stack.key}", "Transfer-Encoding": "chunked"},
    )
    assert response.status == 413 and error_of(response) == "too_large"


def test_multipart_with_two_files_or_none_is_400(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.key}"}
    two = stack.http.request("POST", stack.live.url + "/upload", headers=headers, fields={
        "a": ("a.jpg", jpeg_bytes(), "image/jpeg"), "b": ("b.jpg", jpeg_bytes(), "image/jpeg")})
    none = stack.http.request("POST", stack.live.url + "/upload", headers=headers,
                              fields={"a": "text only"})
    wrong = stack.http.request("POST", stack.live.url + "/upload", headers=headers,
                               fields={"a": ("a.txt", b"hello", "text/plain")})
    assert (two.status, error_of(two)) == (400, "bad_multipart")
    assert (none.status, error_of(none)) == (400, "bad_multipart")
    assert (wrong.status, error_of(wrong)) == (415, "unsupported_media_type")
    assert stack.stored() == []


def test_no_length_and_not_chunked_is_411(stack: Stack) -> None:
    head = (f"POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {stack.key}\r\n"
            "Content-Type: image/jpeg\r\nConnection: close\r\n\r\n")
    status, _, body = parse_response(raw_request(stack.live.port, head.encode()))
    assert status == 411 and json.loads(body)["error"] == "length_required"


def test_malformed_content_length_is_400(stack: Stack) -> None:
    for value in ("abc", "-5", "1e3"):
        head = (f"POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {stack.key}\r\n"
                f"Content-Type: image/jpeg\r\nContent-Length: {value}\r\nConnection: close\r\n\r\n")
        status, _, body = parse_response(raw_request(stack.live.port, head.encode()))
        assert status == 400, (value, body)
    assert stack.stored() == []


def test_client_that_disconnects_mid_body_writes_nothing(stack: Stack) -> None:
    # Given a camera that announces a whole frame, sends 10 kB of it and loses its connection
    image = make_frame(640, 480, 1)
    assert len(image) > 20_000
    request = esp32_request(stack.live.port, stack.key, image, [("X-Capture-Id", "lost-1")])
    cut = request[: len(request) - len(image) + 10_000]
    with socket.create_connection(("127.0.0.1", stack.live.port)) as sock:
        sock.sendall(cut)
    # Then the refusal is counted (once the request is over: counting is its last step)...
    def counted() -> bool:
        metrics = stack.http.request("GET", stack.live.url + "/metrics").data.decode()
        return 'camcloud_ingest_rejects_total{reason="incomplete"} 1' in metrics

    assert wait_for(counted, timeout=5, interval=0.05)
    # ...nothing was stored, and the server still serves
    assert stack.stored() == []
    assert stack.post(image, {"X-Capture-Id": "lost-1"}).status == 201


def test_body_shorter_than_content_length_is_400_incomplete(stack: Stack) -> None:
    image = jpeg_bytes()
    request = esp32_request(stack.live.port, stack.key, image + b"\x00" * 100, [])
    status, _, body = parse_response(raw_request(stack.live.port, request[:-100]))
    assert status == 400 and json.loads(body)["error"] == "incomplete"
    assert stack.stored() == []


@functools.cache
def shared_client(endpoint: str) -> Any:
    """The ingest's kind of S3 client for ``endpoint``, made once."""
    return make_ingest_client(Settings.from_env({"CAMCLOUD_BUCKET": "any",
                                                 "CAMCLOUD_S3_ENDPOINT": endpoint}))


@hypothesis_settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=300) | scan_bombs() | fill_floods(),
    capture_id=st.text(max_size=70) | st.none(),
    captured_at=st.text(max_size=40) | st.none(),
    content_type=st.sampled_from(["image/jpeg", "multipart/form-data; boundary=xyz",
                                  "multipart/form-data; boundary=", "application/json", ""]),
)
def test_no_request_content_produces_a_500(
    moto_endpoint: str, tmp_path: Path, body: bytes, capture_id: str | None,
    captured_at: str | None, content_type: str,
) -> None:
    # One S3 client for every example (it holds no bucket, only connections): building one
    # costs more than the rest of an example.
    client = shared_client(moto_endpoint)
    headers: dict[str, str | None] = {"Content-Type": content_type}
    for name, value in (("X-Capture-Id", capture_id), ("X-Captured-At", captured_at)):
        if value is not None:
            headers[name] = value.encode("latin-1", "ignore").decode("latin-1").replace(
                "\r", "").replace("\n", "")
    # A bucket and an ingest of its own for every example: no state carried between them.
    with fresh_stack(moto_endpoint, tmp_path / f"spool-{uuid.uuid4().hex[:8]}",
                     client=client) as stack:
        response = stack.post(body, headers)
    assert response.status in {201, 200, 400, 411, 413, 415}, response.data
    if response.status >= 400:
        error_of(response)


# --- operations ---------------------------------------------------------------------------


def test_healthz_readyz_and_metrics(stack: Stack) -> None:
    assert stack.post(jpeg_bytes(), {"X-Capture-Id": "m-1"}).status == 201
    assert stack.post(b"nope").status == 400
    health = stack.http.request("GET", stack.live.url + "/healthz")
    ready = stack.http.request("GET", stack.live.url + "/readyz")
    metrics = stack.http.request("GET", stack.live.url + "/metrics").data.decode()
    assert health.status == 200 and json.loads(health.data) == {"status": "ok"}
    assert ready.status == 200
    assert json.loads(ready.data)["spool"]["entries"] == 0
    assert 'camcloud_ingest_uploads_total{outcome="stored"} 1' in metrics
    assert 'camcloud_ingest_rejects_total{reason="not_jpeg"} 1' in metrics
    assert "camcloud_ingest_request_seconds_count 2" in metrics
    assert "camcloud_ingest_spool_entries 0" in metrics


def test_upload_is_logged_as_one_json_line(stack: Stack) -> None:
    # Given a handler with the ingest's JSON formatter on the ingest logger
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logs.log.addHandler(handler)
    try:
        # When a capture is uploaded
        assert stack.post(jpeg_bytes(), {"X-Capture-Id": "log-1"}).status == 201
    finally:
        logs.log.removeHandler(handler)
    # Then one JSON line says who, what, how big, how it ended and how long it took
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    uploads = [record for record in records if record["event"] == "upload"]
    assert len(uploads) == 1
    record = uploads[0]
    assert record["device"] == DEVICE and record["capture_id"] == "log-1"
    assert record["outcome"] == "stored" and record["status"] == 201
    assert record["bytes"] > 0 and record["latency_ms"] >= 0


# --- the fast PutObject path ----------------------------------------------------------------


class _Answer(BaseHTTPRequestHandler):
    """Answers every PUT with the status the test sets, after reading the body."""

    status = 503
    code = b"Stub"

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b"<Error><Code>" + self.code + b"</Code></Error>"
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def stub_s3() -> Iterator[tuple[str, type[_Answer]]]:
    """A fake S3 endpoint answering PUTs with a chosen status."""
    handler = type("Answer", (_Answer,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", handler
    server.shutdown()
    server.server_close()


def _metadata() -> dict[str, str]:
    return {"capture-id": "f-1", "clock": "device", "sha256": "0" * 64, "bytes": "3"}


def test_fast_put_falls_back_to_boto3_on_an_unexpected_answer(
    make_stack: Callable[..., Stack], stub_s3: tuple[str, type[_Answer]]
) -> None:
    # Given the fast path pointed at an endpoint that refuses its requests with 403
    stack = make_stack()
    url, handler = stub_s3
    handler.status = 403
    fast = FastPut(stack.bucket.client, stack.bucket.settings.bucket)
    fast._base = url
    image = jpeg_bytes()
    digest = hashlib.sha256(image).hexdigest()
    # When it stores an original
    created = fast.put_if_absent("raw/cam-1/0000000000001_f-1.jpg", image, len(image), digest,
                                 _metadata())
    # Then the write went through boto3 and the fast path is off for good
    assert created is True and fast.enabled is False
    assert stack.bucket.get("raw/cam-1/0000000000001_f-1.jpg")["Body"].read() == image
    assert fast.put_if_absent("raw/cam-1/0000000000001_f-1.jpg", image, len(image), digest,
                              _metadata()) is False


def test_fast_put_reports_s3_trouble_as_an_error(
    make_stack: Callable[..., Stack], stub_s3: tuple[str, type[_Answer]]
) -> None:
    stack = make_stack()
    url, handler = stub_s3
    handler.status = 503
    fast = FastPut(stack.bucket.client, stack.bucket.settings.bucket)
    fast._base = url
    image = jpeg_bytes()
    with pytest.raises(ClientError) as caught:
        fast.put_if_absent("raw/cam-1/0000000000001_f-2.jpg", image, len(image),
                           hashlib.sha256(image).hexdigest(), _metadata())
    assert caught.value.response["Error"]["Code"] == "Stub"
    assert fast.enabled is True
    assert stack.stored() == []


def test_fast_put_treats_a_digest_mismatch_as_s3_trouble(
    make_stack: Callable[..., Stack], stub_s3: tuple[str, type[_Answer]]
) -> None:
    # Given S3 saying the bytes it got do not match the checksum (damaged on the way)
    stack = make_stack()
    url, handler = stub_s3
    handler.status = 400
    handler.code = b"BadDigest"
    fast = FastPut(stack.bucket.client, stack.bucket.settings.bucket)
    fast._base = url
    image = jpeg_bytes()
    # Then the write fails (the upload is spooled and retried) and the fast path stays on
    with pytest.raises(ClientError):
        fast.put_if_absent("raw/cam-1/0000000000001_f-3.jpg", image, len(image),
                           hashlib.sha256(image).hexdigest(), _metadata())
    assert fast.enabled is True
