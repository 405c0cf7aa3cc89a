"""The thumbnailer handler against moto, fed the real S3 event samples in events/."""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError
from PIL import ExifTags, Image, ImageDraw

import camcloud.s3
from camcloud import imaging, layout, thumbnailer
from camcloud.devices import DeviceRegistry
from camcloud.records import object_metadata
from camcloud.settings import Settings
from lambdas.thumbnailer.app import make_handler
from tests.hostile_jpegs import fill_flood, scan_bomb

EVENTS = Path(__file__).resolve().parent.parent / "events"
# The bucket the sample events name, as the template would call it.
EVENT_BUCKET = "camcloud-123456789012-us-east-1"
PUT_KEY = "raw/garden-cam/8204746599999_a4cf12-7-42.jpg"
RECORD_FIELDS = {
    "schema", "device", "capture_id", "captured_at", "received_at", "clock", "bytes", "sha256",
    "width", "height", "orientation", "rotation", "source", "keys", "exif", "quality",
    "telemetry", "status", "error", "error_code", "processed_at", "processor",
}


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/."""
    event = json.loads((EVENTS / name).read_text())
    assert isinstance(event, dict)
    return event


def event_keys(event: dict[str, Any]) -> list[str]:
    """The decoded keys of an event's records."""
    return [unquote_plus(record["s3"]["object"]["key"]) for record in event["Records"]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for the bucket the sample events name."""
    return Settings.from_env({"CAMCLOUD_BUCKET": EVENT_BUCKET, "CAMCLOUD_REGION": "us-east-1",
                              "CAMCLOUD_SPOOL_DIR": str(tmp_path / "spool")})


@pytest.fixture
def handler(settings: Settings, s3: Any) -> Any:
    """The handler as the local stack's worker builds it."""
    return make_handler(settings, s3)


def photo(width: int = 2048, height: int = 1536, orientation: int | None = None) -> bytes:
    """A capture with camera EXIF: left half red, right half blue."""
    image = Image.new("RGB", (width, height), (30, 60, 200))
    ImageDraw.Draw(image).rectangle((0, 0, width // 2 - 1, height - 1), fill=(220, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Arducam"
    exif[ExifTags.Base.Model] = "Mega 3MP"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def put_original(s3: Any, key: str, body: bytes, **telemetry: int | str) -> None:
    """Store an original the way the ingest does: bytes plus its object metadata."""
    ref = layout.parse_key(key)
    metadata = object_metadata(
        capture_id=ref.capture_id, captured_at="2026-11-21T09:30:00.000+00:00",
        received_at="2026-11-21T09:30:01.200+00:00", clock="device",
        sha256=hashlib.sha256(body).hexdigest(), size=len(body), telemetry=telemetry,
    )
    s3.put_object(Bucket=EVENT_BUCKET, Key=key, Body=body, ContentType="image/jpeg",
                  Metadata=metadata)


def keys(s3: Any, prefix: str = "") -> list[str]:
    """Every key in the bucket under ``prefix``."""
    listing = s3.list_objects_v2(Bucket=EVENT_BUCKET, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def derived(s3: Any) -> list[str]:
    """Every key the thumbnailer writes."""
    return keys(s3, "thumbs/") + keys(s3, "previews/") + keys(s3, "meta/")


def fetch(s3: Any, key: str) -> bytes:
    """An object's bytes."""
    return bytes(s3.get_object(Bucket=EVENT_BUCKET, Key=key)["Body"].read())


def record_of(s3: Any, raw_key: str) -> dict[str, Any]:
    """The metadata record of an original."""
    document = json.loads(fetch(s3, layout.parse_key(raw_key).meta_key))
    assert isinstance(document, dict)
    return document


def image_at(s3: Any, key: str) -> Image.Image:
    """The JPEG stored at ``key``, decoded."""
    image = Image.open(io.BytesIO(fetch(s3, key)))
    image.load()
    return image


def test_put_event_makes_thumbnail_preview_and_a_full_record(s3: Any, handler: Any) -> None:
    """Given an original with the ingest's metadata, when its put event arrives, then the
    thumbnail (320) and preview (1024) exist and the record holds every docs/protocol.md field."""
    original = photo()
    put_original(s3, PUT_KEY, original, rssi=-61, firmware="1.4.0", free_heap=81234)

    summary = handler(load_event("s3-put-raw.json"), None)

    assert summary == {"processed": 1, "errors": {}, "removed": 0, "skipped": 0, "failed": 0}
    ref = layout.parse_key(PUT_KEY)
    thumb, preview = image_at(s3, ref.thumb_key), image_at(s3, ref.preview_key)
    assert (thumb.size, preview.size) == ((320, 240), (1024, 768))
    assert thumb.info.get("progressive") == 1 and preview.info.get("progressive") == 1
    head = s3.head_object(Bucket=EVENT_BUCKET, Key=ref.thumb_key)
    assert head["ContentType"] == "image/jpeg"
    record = record_of(s3, PUT_KEY)
    assert set(record) == RECORD_FIELDS
    assert record | {"processed_at": None, "quality": None} == {
        "schema": 1, "device": "garden-cam", "capture_id": "a4cf12-7-42",
        "captured_at": "2026-11-21T09:30:00.000+00:00",
        "received_at": "2026-11-21T09:30:01.200+00:00", "clock": "device",
        "bytes": len(original), "sha256": hashlib.sha256(original).hexdigest(),
        "width": 2048, "height": 1536, "orientation": 1, "rotation": 0, "source": "camera",
        "keys": {"raw": PUT_KEY, "thumb": ref.thumb_key, "preview": ref.preview_key},
        "exif": {"make": "Arducam", "model": "Mega 3MP"},
        "quality": None,
        "telemetry": {"rssi": -61, "firmware": "1.4.0", "free_heap": 81234},
        "status": "ok", "error": None, "error_code": None, "processed_at": None,
        "processor": thumbnailer.PROCESSOR,
    }
    assert set(record["quality"]) == {"brightness", "sharpness", "dark"}
    assert record["quality"]["dark"] is False
    assert record["processed_at"].startswith("20")
    assert keys(s3, "raw/") == [PUT_KEY]


def test_multi_record_event_renders_every_capture(s3: Any, handler: Any) -> None:
    """Given three originals of two cameras, when one event names them all, then each gets
    its thumbnail, preview and record."""
    event = load_event("s3-put-multi.json")
    for key in event_keys(event):
        put_original(s3, key, photo(1280, 720))

    summary = handler(event, None)

    assert summary["processed"] == 3
    for key in event_keys(event):
        ref = layout.parse_key(key)
        assert image_at(s3, ref.thumb_key).size == (320, 180)
        assert image_at(s3, ref.preview_key).size == (1024, 576)
        assert record_of(s3, key)["status"] == "ok"
    assert len(derived(s3)) == 9


def test_redelivered_event_overwrites_the_same_outputs(s3: Any, handler: Any) -> None:
    """Given a rendered capture, when S3 delivers its event again, then the same three keys
    are rewritten with the same images and nothing is added."""
    put_original(s3, PUT_KEY, photo())
    handler(load_event("s3-put-raw.json"), None)
    before = {key: fetch(s3, key) for key in derived(s3)}

    handler(load_event("s3-put-raw.json"), None)
    handler(load_event("s3-put-multi.json"), None)  # overlaps: names the same capture first

    after = {key: fetch(s3, key) for key in derived(s3)}
    assert sorted(after) == sorted(before) and len(after) == 3
    ref = layout.parse_key(PUT_KEY)
    assert after[ref.thumb_key] == before[ref.thumb_key]
    assert after[ref.preview_key] == before[ref.preview_key]


def test_encoded_keys_are_decoded_and_non_capture_keys_ignored(s3: Any, handler: Any) -> None:
    """Given keys encoded as S3 may send them ('/' as %2F; spaces as '+' and %20), when the
    event arrives, then the encoded capture key is rendered and the key with spaces, not a
    capture key, is ignored without error."""
    event = load_event("s3-put-encoded-keys.json")
    capture_key, spaced_key = event_keys(event)
    assert capture_key == "raw/garden-cam/8204746479999_a4cf12-7-44.jpg"
    assert spaced_key == "raw/garden-cam/old upload copy.jpg"
    put_original(s3, capture_key, photo(640, 480))
    s3.put_object(Bucket=EVENT_BUCKET, Key=spaced_key, Body=photo(640, 480))

    summary = handler(event, None)

    assert summary["processed"] == 1 and summary["skipped"] == 1
    assert image_at(s3, layout.parse_key(capture_key).thumb_key).size == (320, 240)
    assert len(derived(s3)) == 3


def test_plus_and_percent_encodings_decode_the_same() -> None:
    """Given one key spelled three ways, when changes are read, then all decode alike."""
    spellings = ["raw/cam-1/a+b.jpg", "raw/cam-1/a%20b.jpg", "raw%2Fcam-1%2Fa%20b.jpg"]
    event = {"Records": [{"eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": "b"}, "object": {"key": spelling}}}
                         for spelling in spellings]}

    changes = list(thumbnailer.iter_changes(event))

    assert [change.key for change in changes] == ["raw/cam-1/a b.jpg"] * 3
    literal_plus = {"Records": [{"eventName": "ObjectCreated:Put",
                                 "s3": {"bucket": {"name": "b"}, "object": {"key": "raw/a%2Bb"}}}]}
    assert [c.key for c in thumbnailer.iter_changes(literal_plus)] == ["raw/a+b"]


def test_test_event_and_own_outputs_are_ignored(s3: Any, handler: Any) -> None:
    """Given S3's test event and events for the function's own outputs (recursion guard),
    when they arrive, then nothing is read or written."""
    put_original(s3, PUT_KEY, photo())

    first = handler(load_event("s3-test-event.json"), None)
    second = handler(load_event("s3-put-derived.json"), None)

    assert first == second == {"processed": 0, "errors": {}, "removed": 0, "skipped": 0,
                               "failed": 0}
    assert derived(s3) == []


@pytest.mark.parametrize("event_name", ["s3-delete-raw.json", "s3-lifecycle-expiration.json"])
def test_deleting_an_original_removes_thumbnail_preview_and_record(
    s3: Any, handler: Any, event_name: str
) -> None:
    """Given a rendered capture and another one, when the first original is deleted or expires,
    then its thumbnail, preview and record go and the other capture stays."""
    multi = load_event("s3-put-multi.json")
    for key in event_keys(multi):
        put_original(s3, key, photo(640, 480))
    handler(multi, None)
    s3.delete_object(Bucket=EVENT_BUCKET, Key=PUT_KEY)

    summary = handler(load_event(event_name), None)

    assert summary["removed"] == 1
    gone = layout.parse_key(PUT_KEY)
    left = derived(s3)
    assert not {gone.thumb_key, gone.preview_key, gone.meta_key} & set(left)
    assert len(left) == 6


def test_late_create_for_a_deleted_original_writes_nothing(s3: Any, handler: Any) -> None:
    """Given the delete event arrived first (out of order), when the late put event arrives,
    then the thumbnailer finds no original and writes nothing."""
    put_original(s3, PUT_KEY, photo())
    s3.delete_object(Bucket=EVENT_BUCKET, Key=PUT_KEY)
    handler(load_event("s3-delete-raw.json"), None)

    summary = handler(load_event("s3-put-raw.json"), None)

    assert summary["skipped"] == 1 and summary["processed"] == 0
    assert derived(s3) == []


def test_delete_racing_the_render_leaves_no_orphans(
    s3: Any, handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given an original deleted while it is being rendered (its delete event already
    handled), when the render finishes, then its outputs are removed again."""
    put_original(s3, PUT_KEY, photo(640, 480))
    real_render = imaging.render

    def render_while_deleted(original: bytes, **options: Any) -> imaging.Rendition:
        s3.delete_object(Bucket=EVENT_BUCKET, Key=PUT_KEY)
        handler(load_event("s3-delete-raw.json"), None)
        return real_render(original, **options)

    monkeypatch.setattr(imaging, "render", render_while_deleted)

    handler(load_event("s3-put-raw.json"), None)

    assert derived(s3) == []


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48)).save(out, "PNG")
    return out.getvalue()


def _with_size(width: int, height: int) -> bytes:
    original = photo(64, 48)
    at = original.index(b"\xff\xc0")
    return original[: at + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") \
        + original[at + 9 :]


def _broken_huffman_table() -> bytes:
    original = bytearray(photo(640, 480))
    original[original.index(b"\xff\xc4") + 4] = 0x7F
    return bytes(original)


BAD_ORIGINALS = {
    "zero bytes": (b"", "empty"),
    "not a JPEG": (_png(), "not_jpeg"),
    "truncated": (photo(640, 480)[:5000], "truncated"),
    "corrupt": (_broken_huffman_table(), "corrupt"),
    "decompression bomb": (_with_size(60000, 60000), "decompression_bomb"),
    "absurd size": (_with_size(8000, 16), "absurd_size"),
}


@pytest.mark.parametrize("name", BAD_ORIGINALS)
def test_bad_original_gets_an_error_record_and_placeholder_tiles(
    s3: Any, handler: Any, name: str
) -> None:
    """Given a bad original, when its event arrives, then the handler does not raise (no
    retries), keeps the original, writes a status-error record with the reason, and puts
    placeholder tiles at the usual keys so the gallery never shows a broken image."""
    body, code = BAD_ORIGINALS[name]
    put_original(s3, PUT_KEY, body)

    summary = handler(load_event("s3-put-raw.json"), None)

    assert summary["errors"] == {PUT_KEY: code} and summary["failed"] == 0
    record = record_of(s3, PUT_KEY)
    assert set(record) == RECORD_FIELDS
    assert record["status"] == "error" and record["error_code"] == code
    assert isinstance(record["error"], str) and record["error"]
    assert record["bytes"] == len(body) and record["width"] is None
    ref = layout.parse_key(PUT_KEY)
    assert record["keys"] == {"raw": PUT_KEY, "thumb": ref.thumb_key,
                              "preview": ref.preview_key}
    assert image_at(s3, ref.thumb_key).size == (320, 240)
    assert image_at(s3, ref.preview_key).size == (1024, 768)
    assert fetch(s3, PUT_KEY) == body


def test_an_original_over_the_size_cap_is_never_downloaded(
    s3: Any, handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given an original larger than the thumbnailer reads, when its event arrives, then it
    gets a too_large error record without its bytes being read."""
    monkeypatch.setattr(thumbnailer, "MAX_ORIGINAL_BYTES", 1000)
    put_original(s3, PUT_KEY, photo(640, 480))

    summary = handler(load_event("s3-put-raw.json"), None)

    assert summary["errors"] == {PUT_KEY: "too_large"}
    assert record_of(s3, PUT_KEY)["error_code"] == "too_large"


def test_device_rotation_from_the_registry_turns_thumbnail_and_preview(
    s3: Any, handler: Any, registry: DeviceRegistry
) -> None:
    """Given garden-cam registered with rotation 90, when its landscape capture is rendered,
    then thumbnail and preview are portrait, the red left half now on top."""
    registry.add("garden-cam", rotation=90)
    put_original(s3, PUT_KEY, photo())

    handler(load_event("s3-put-raw.json"), None)

    ref = layout.parse_key(PUT_KEY)
    thumb, preview = image_at(s3, ref.thumb_key), image_at(s3, ref.preview_key)
    assert (thumb.size, preview.size) == ((240, 320), (768, 1024))
    top, bottom = thumb.getpixel((120, 40)), thumb.getpixel((120, 280))
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]  # type: ignore[index]
    assert (record_of(s3, PUT_KEY)["width"], record_of(s3, PUT_KEY)["height"]) == (2048, 1536)


def test_exif_orientation_is_applied_and_recorded(s3: Any, handler: Any) -> None:
    """Given a capture tagged 'rotate 90 CW to display' (orientation 6), when rendered, then the
    outputs are portrait and the record keeps the stored size and the orientation."""
    put_original(s3, PUT_KEY, photo(orientation=6))

    handler(load_event("s3-put-raw.json"), None)

    ref = layout.parse_key(PUT_KEY)
    assert image_at(s3, ref.preview_key).size == (768, 1024)
    record = record_of(s3, PUT_KEY)
    assert (record["width"], record["height"], record["orientation"]) == (2048, 1536, 6)


class FailingPuts:
    """An S3 client whose writes of one key fail, as during an S3 outage."""

    def __init__(self, client: Any, failing_key: str) -> None:
        self._client = client
        self._failing_key = failing_key

    def put_object(self, **params: Any) -> Any:
        """Fail writes derived from the failing original."""
        if params["Key"] == self._failing_key:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}},
                              "PutObject")
        return self._client.put_object(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_unexpected_failure_raises_after_the_rest_of_the_batch(
    s3: Any, settings: Settings
) -> None:
    """Given S3 failing to store one capture's thumbnail, when a batch of three arrives, then
    the other two are rendered and the handler raises so that Lambda retries the event."""
    event = load_event("s3-put-multi.json")
    for key in event_keys(event):
        put_original(s3, key, photo(640, 480))
    failing = layout.parse_key(event_keys(event)[1])
    handler = make_handler(settings, FailingPuts(s3, failing.thumb_key))

    with pytest.raises(thumbnailer.BatchFailed) as raised:
        handler(event, None)

    assert list(raised.value.result.failed) == [failing.raw_key]
    assert len(raised.value.result.processed) == 2
    assert isinstance(raised.value.__cause__, ClientError)
    assert failing.meta_key not in keys(s3, "meta/")


def test_one_s3_client_per_container(
    s3: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a handler that makes its own client, when it handles several events, then it
    created exactly one S3 client."""
    made = []
    real_make_client = camcloud.s3.make_client

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(args)
        return real_make_client(*args, **kwargs)

    monkeypatch.setattr(camcloud.s3, "make_client", counting)
    put_original(s3, PUT_KEY, photo(640, 480))
    handler = make_handler(settings)

    for _ in range(3):
        handler(load_event("s3-put-raw.json"), None)

    assert len(made) == 1


@pytest.mark.parametrize("name", ["scan bomb", "fill-byte flood"])
def test_cpu_bomb_original_gets_an_error_record_in_well_under_a_second(
    s3: Any, handler: Any, name: str
) -> None:
    """Regression (issue 13): a progressive JPEG of 10,000 empty scans cost 16-26 s of decoding
    (a Lambda timeout, retries, the dead-letter queue) and 8 MiB of 0xFF fill 7.5 s. Given
    such an original written straight to raw/, when its event arrives, then it gets a
    too_complex error record and placeholder tiles, quickly, without a retry."""
    body = scan_bomb(10_000) if name == "scan bomb" else fill_flood(8 * 1024 * 1024)
    put_original(s3, PUT_KEY, body)

    started = time.perf_counter()
    summary = handler(load_event("s3-put-raw.json"), None)
    elapsed = time.perf_counter() - started

    assert summary["errors"] == {PUT_KEY: "too_complex"} and summary["failed"] == 0
    record = record_of(s3, PUT_KEY)
    assert record["status"] == "error" and record["bytes"] == len(body)
    assert image_at(s3, layout.parse_key(PUT_KEY).thumb_key).size == (320, 240)
    assert elapsed < 1.0, f"{elapsed:.2f} s"


def original(body: bytes | None, size: int | None = None,
             **metadata: str) -> camcloud.s3.StoredObject:
    """An original as the S3 adapter reads it."""
    return camcloud.s3.StoredObject(body=body, size=len(body or b"") if size is None else size,
                                    metadata=metadata)


def test_plan_of_a_good_original_records_what_was_rendered() -> None:
    """Given a good original without stored metadata (written straight to raw/), when its
    capture is planned, then the record falls back to the key's time, the bytes' size and
    sha256, and the tiles are the rendition's: no S3 involved."""
    body = photo(640, 480)
    ref = layout.parse_key(PUT_KEY)

    plan = thumbnailer.plan_capture(ref, original(body), rotation=0,
                                    processed_at="2026-11-21T09:30:02.000+00:00")

    assert plan.failure is None and plan.rendition is not None
    assert plan.thumb == plan.rendition.thumb and plan.preview == plan.rendition.preview
    assert plan.record["status"] == "ok" and plan.record["bytes"] == len(body)
    assert plan.record["sha256"] == hashlib.sha256(body).hexdigest()
    assert plan.record["captured_at"] == thumbnailer._iso_from_ms(ref.captured_at_ms)
    assert plan.record["processed_at"] == "2026-11-21T09:30:02.000+00:00"


def test_plan_of_an_unread_original_over_the_cap_is_a_too_large_placeholder() -> None:
    """Given an original the adapter did not read (over the cap), when planned, then the plan
    is placeholder tiles and a too_large record with the stored size."""
    plan = thumbnailer.plan_capture(layout.parse_key(PUT_KEY), original(None, size=10**9),
                                    rotation=0, processed_at="2026-11-21T09:30:02.000+00:00")

    assert plan.failure is not None and plan.failure.code == "too_large"
    assert plan.record["error_code"] == "too_large" and plan.record["bytes"] == 10**9
    assert "sha256" not in plan.record or plan.record["sha256"] is None
    assert Image.open(io.BytesIO(plan.thumb)).size == (320, 240)


@pytest.mark.parametrize(("metadata", "source", "rotation"), [
    ({"clock": "device"}, "camera", 90),
    ({"clock": "server"}, "camera", 90),
    ({}, "camera", 90),
    (object_metadata(capture_id="x", captured_at="2025-06-01T12:00:00.000+00:00",
                     received_at="2026-11-21T09:30:00.000+00:00", clock="exif", sha256="0",
                     size=1, telemetry={}, imported=True), "import", 0),
    (object_metadata(capture_id="x", captured_at="2025-06-01T12:00:00.000+00:00",
                     received_at="2026-11-21T09:30:00.000+00:00", clock="file", sha256="0",
                     size=1, telemetry={}, imported=True, apply_rotation=True), "import", 90),
    ({"clock": "name"}, "import", 0),  # imported before imports were marked
    ({"source": "import", "apply-rotation": "maybe"}, "import", 0),
])
def test_plan_turns_uploads_by_the_device_rotation_and_imports_only_when_asked(
    metadata: dict[str, str], source: str, rotation: int
) -> None:
    """Given an original's object metadata and a device rotation of 90, when planned, then
    an upload is turned, an import only if it asked for it, and the record says which."""
    body = photo(64, 48)
    stored = camcloud.s3.StoredObject(body=body, size=len(body), metadata=metadata)

    plan = thumbnailer.plan_capture(layout.parse_key(PUT_KEY), stored, rotation=90,
                                    processed_at="2026-11-21T09:30:02.000+00:00")

    assert plan.rendition is not None
    assert (plan.record["source"], plan.record["rotation"]) == (source, rotation)
    assert Image.open(io.BytesIO(plan.preview)).size == ((48, 64) if rotation else (64, 48))
