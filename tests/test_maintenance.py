"""`camcloud reprocess` and `camcloud import` against moto."""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from click.testing import CliRunner
from PIL import ExifTags, Image, ImageDraw, ImageStat

from camcloud import layout, reprocess
from camcloud.devices import DeviceRegistry
from camcloud.records import object_metadata
from camcloud.settings import Settings
from camcloud.thumbnailer import Thumbnailer
from camcloud_cli import main
from tests.conftest import BUCKET


def frame(width: int = 640, height: int = 480, taken: str | None = None,
          offset: str | None = None) -> bytes:
    """A capture, left half red; with ``taken`` as its EXIF DateTimeOriginal."""
    image = Image.new("RGB", (width, height), (30, 60, 200))
    ImageDraw.Draw(image).rectangle((0, 0, width // 2 - 1, height - 1), fill=(220, 30, 30))
    exif = Image.Exif()
    if taken:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    if offset:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = offset
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def at(text: str) -> int:
    """Unix milliseconds of an ISO time."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def store(s3: Any, device: str, when: str, capture_id: str) -> layout.CaptureRef:
    """Put an original straight into raw/ (as if its event had been lost)."""
    ref = layout.CaptureRef.new(device, at(when), capture_id)
    s3.put_object(Bucket=BUCKET, Key=ref.raw_key, Body=frame(), ContentType="image/jpeg")
    return ref


def records(s3: Any) -> dict[str, dict[str, Any]]:
    """Every metadata record, by key."""
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="meta/").get("Contents", [])
    return {item["Key"]: json.loads(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
            for item in listing}


def invoke(*args: str) -> Any:
    """Run the camcloud command against the mocked test bucket."""
    return CliRunner().invoke(main, list(args), env={"CAMCLOUD_BUCKET": BUCKET,
                                                     "CAMCLOUD_REGION": "us-east-1"})


@pytest.fixture
def captures(s3: Any) -> dict[str, layout.CaptureRef]:
    """Five originals of two cameras over three days, none rendered yet."""
    return {
        "a1": store(s3, "cam-a", "2026-11-19T23:59:59+00:00", "a1"),
        "a2": store(s3, "cam-a", "2026-11-20T00:00:00+00:00", "a2"),
        "a3": store(s3, "cam-a", "2026-11-20T12:00:00+00:00", "a3"),
        "a4": store(s3, "cam-a", "2026-11-21T00:00:00+00:00", "a4"),
        "b1": store(s3, "cam-b", "2026-11-20T08:00:00+00:00", "b1"),
    }


def test_reprocess_renders_every_original_without_outputs(
    s3: Any, captures: dict[str, layout.CaptureRef]
) -> None:
    """Given originals whose events were lost, when `camcloud reprocess` runs, then every one
    gets its thumbnail, preview and record."""
    result = invoke("reprocess")

    assert result.exit_code == 0, result.output
    assert "rendered 5, bad originals 0, gone 0, failed 0 (of 5)" in result.output
    assert set(records(s3)) == {ref.meta_key for ref in captures.values()}
    for ref in captures.values():
        s3.head_object(Bucket=BUCKET, Key=ref.thumb_key)
        s3.head_object(Bucket=BUCKET, Key=ref.preview_key)


def test_reprocess_one_device_in_a_time_range(
    s3: Any, captures: dict[str, layout.CaptureRef]
) -> None:
    """Given captures over three days, when reprocessing cam-a for 20 November, then exactly
    that day's cam-a captures are rendered (since inclusive, until exclusive)."""
    result = invoke("reprocess", "--device", "cam-a", "--since", "2026-11-20",
                    "--until", "2026-11-21")

    assert result.exit_code == 0, result.output
    assert set(records(s3)) == {captures["a2"].meta_key, captures["a3"].meta_key}


def test_reprocess_missing_only_leaves_existing_records_alone(
    s3: Any, settings: Settings, captures: dict[str, layout.CaptureRef]
) -> None:
    """Given two captures already rendered, when reprocessing --missing-only, then only the
    other three are rendered and the existing records are not rewritten."""
    invoke("reprocess", "--device", "cam-b")
    invoke("reprocess", "--since", "2026-11-21")
    before = records(s3)
    assert len(before) == 2

    selected = reprocess.select_captures(s3, settings.bucket,
                                           reprocess.Selection(missing_only=True))
    result = invoke("reprocess", "--missing")

    assert sorted(ref.capture_id for ref in selected) == ["a1", "a2", "a3"]
    assert "rendered 3," in result.output
    after = records(s3)
    assert len(after) == 5
    assert all(after[key] == record for key, record in before.items())


def test_reprocess_applies_a_rotation_set_after_the_fact(
    s3: Any, registry: DeviceRegistry, captures: dict[str, layout.CaptureRef]
) -> None:
    """Given rendered captures of a camera later found mounted sideways, when its rotation is
    set and it is reprocessed, then its previews are turned."""
    registry.add("cam-b")
    invoke("reprocess", "--device", "cam-b")
    registry.update("cam-b", rotation=90)

    invoke("reprocess", "--device", "cam-b")

    preview = s3.get_object(Bucket=BUCKET, Key=captures["b1"].preview_key)["Body"].read()
    assert Image.open(io.BytesIO(preview)).size == (480, 640)


def test_reprocess_reports_failures_and_exits_non_zero(
    s3: Any, captures: dict[str, layout.CaptureRef], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given S3 failing for one capture, when reprocessing, then the others are rendered, the
    failure is named, and the command exits 1."""
    from camcloud.thumbnailer import Thumbnailer

    real = Thumbnailer.process_capture

    def flaky(self: Thumbnailer, bucket: str, ref: layout.CaptureRef) -> Any:
        if ref.capture_id == "a3":
            raise ConnectionError("S3 unreachable")
        return real(self, bucket, ref)

    monkeypatch.setattr(Thumbnailer, "process_capture", flaky)

    result = invoke("reprocess")

    assert result.exit_code == 1
    assert "rendered 4," in result.output and "failed 1" in result.output
    assert captures["a3"].raw_key in result.output


def test_import_stores_a_folder_once_with_exif_or_file_times(
    s3: Any, registry: DeviceRegistry, tmp_path: Path
) -> None:
    """Given the old app's uploads/ folder (EXIF-dated, undated, padded, broken and non-JPEG
    files), when imported twice, then each JPEG is stored once as a capture of the camera,
    timed by EXIF or the file's mtime, and the rest is skipped with a reason."""
    registry.add("garden-cam")
    uploads = tmp_path / "uploads"
    (uploads / "2025").mkdir(parents=True)
    dated = frame(taken="2025:06:01 14:30:00", offset="+02:00")
    undated = frame(320, 240)
    (uploads / "2025" / "IMG_0001.JPG").write_bytes(dated)
    (uploads / "capture.jpg").write_bytes(undated)
    os.utime(uploads / "capture.jpg", (1_750_000_000, 1_750_000_000))
    (uploads / "padded.jpeg").write_bytes(frame(160, 120) + b"\x00" * 512)
    (uploads / "broken.jpg").write_bytes(dated[:4000])
    (uploads / "notes.txt").write_text("not an image")

    first = invoke("import", str(uploads), "--device", "garden-cam")
    os.utime(uploads / "capture.jpg", (1_760_000_000, 1_760_000_000))  # copied elsewhere
    second = invoke("import", str(uploads), "--device", "garden-cam")

    assert first.exit_code == 0, first.output
    assert "stored 3, already there 0, skipped 1 (of 4 JPEG files)" in first.output
    # The reason is said once (regression: "truncated: the JPEG is truncated")
    assert "broken.jpg: the JPEG is truncated" in first.output
    assert "truncated: " not in first.output
    assert "stored 0, already there 3, skipped 1" in second.output
    originals = s3.list_objects_v2(Bucket=BUCKET, Prefix="raw/garden-cam/")["Contents"]
    assert len(originals) == 3
    dated_ref = layout.CaptureRef.new("garden-cam", at("2025-06-01T12:30:00+00:00"),
                                      hashlib.sha256(dated).hexdigest())
    head = s3.head_object(Bucket=BUCKET, Key=dated_ref.raw_key)
    assert head["Metadata"]["clock"] == "exif"
    undated_ref = layout.CaptureRef.new("garden-cam", 1_750_000_000_000,
                                        hashlib.sha256(undated).hexdigest())
    head = s3.head_object(Bucket=BUCKET, Key=undated_ref.raw_key)
    assert head["Metadata"]["clock"] == "file"
    assert head["Metadata"]["captured-at"] == datetime.fromtimestamp(
        1_750_000_000, UTC).isoformat(timespec="milliseconds")
    padded = [item for item in originals if item["Key"] not in
              {dated_ref.raw_key, undated_ref.raw_key}]
    assert padded[0]["Size"] == len(frame(160, 120))


def test_imported_captures_render_with_their_times(
    s3: Any, registry: DeviceRegistry, tmp_path: Path
) -> None:
    """Given an imported EXIF-dated photo, when the thumbnailer runs over it, then its record
    carries the EXIF capture time and says which clock it came from."""
    registry.add("garden-cam")
    (tmp_path / "a.jpg").write_bytes(frame(taken="2024:12:24 18:00:00"))
    invoke("import", str(tmp_path), "--device", "garden-cam")

    invoke("reprocess", "--missing-only")

    (record,) = records(s3).values()
    assert record["captured_at"] == "2024-12-24T18:00:00.000+00:00"
    assert record["clock"] == "exif" and record["status"] == "ok"


def test_import_refuses_an_unregistered_device(s3: Any, tmp_path: Path) -> None:
    """Given no device named ghost-cam, when importing into it, then nothing is stored and the
    message says how to register it."""
    (tmp_path / "a.jpg").write_bytes(frame())

    result = invoke("import", str(tmp_path), "--device", "ghost-cam")

    assert result.exit_code == 1
    assert "camcloud devices add ghost-cam" in result.output
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="raw/")


def test_reprocess_of_an_unknown_device_says_so_instead_of_of_0(
    s3: Any, registry: DeviceRegistry, captures: dict[str, layout.CaptureRef]
) -> None:
    """Given captures of cam-a only, when reprocessing a misspelt camera, then it is an error
    that names it; a registered camera without captures is told so, not "of 0"."""
    unknown = invoke("reprocess", "--device", "nosuch")
    assert unknown.exit_code == 1 and "unknown device 'nosuch'" in unknown.output
    registry.add("quiet-cam")
    empty = invoke("reprocess", "--device", "quiet-cam")
    assert empty.exit_code == 0 and "quiet-cam has no captures" in empty.output


def test_import_reads_capture_times_from_old_server_file_names_and_zoneless_exif(
    s3: Any, registry: DeviceRegistry, tmp_path: Path
) -> None:
    """Given the single-server version's uploads/ (timestamp-named files whose copy lost their
    dates) and a camera's EXIF time without an offset, when imported with --timezone, then
    each capture keeps its real time (regression: every copied photo was dated "today")."""
    registry.add("garden-cam")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    bodies = {
        "20250601_143000.jpg": frame(100, 80),
        "2025-06-02_08-15-00.jpg": frame(110, 80),
        "1750000000.jpg": frame(120, 80),
        "IMG_0001.jpg": frame(130, 80, taken="2025:06:03 12:00:00"),
    }
    for name, body in bodies.items():
        (uploads / name).write_bytes(body)

    result = invoke("import", str(uploads), "--device", "garden-cam", "--timezone",
                    "Europe/Berlin")

    assert result.exit_code == 0, result.output
    expected = {
        "20250601_143000.jpg": ("2025-06-01T12:30:00+00:00", "name"),
        "2025-06-02_08-15-00.jpg": ("2025-06-02T06:15:00+00:00", "name"),
        "1750000000.jpg": (datetime.fromtimestamp(1_750_000_000, UTC).isoformat(), "name"),
        "IMG_0001.jpg": ("2025-06-03T10:00:00+00:00", "exif"),
    }
    for name, (when, clock) in expected.items():
        ref = layout.CaptureRef.new("garden-cam", at(when),
                                    hashlib.sha256(bodies[name]).hexdigest())
        head = s3.head_object(Bucket=BUCKET, Key=ref.raw_key)
        assert head["Metadata"]["clock"] == clock, name


def test_import_refuses_an_unknown_time_zone(s3: Any, tmp_path: Path) -> None:
    result = invoke("import", str(tmp_path), "--device", "garden-cam", "--timezone", "Mars/Base")
    assert result.exit_code == 2 and "unknown time zone 'Mars/Base'" in result.output


def top_white(width: int = 640, height: int = 480) -> bytes:
    """An old photo taken upright: top half white, bottom half black."""
    image = Image.new("RGB", (width, height), (0, 0, 0))
    ImageDraw.Draw(image).rectangle((0, 0, width - 1, height // 2 - 1), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def preview_of(s3: Any, ref: layout.CaptureRef) -> Image.Image:
    """The preview the thumbnailer made of a capture, decoded."""
    body = s3.get_object(Bucket=BUCKET, Key=ref.preview_key)["Body"].read()
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def white_half(image: Image.Image) -> str:
    """Which half of a landscape or portrait image is the white one: top, bottom, left, right."""
    grey = image.convert("L")
    width, height = grey.size
    halves = {
        "top": (0, 0, width, height // 2), "bottom": (0, height // 2, width, height),
        "left": (0, 0, width // 2, height), "right": (width // 2, 0, width, height),
    }
    means = {name: ImageStat.Stat(grey.crop(box)).mean[0] for name, box in halves.items()}
    return max(means, key=lambda name: means[name])


def created_event(ref: layout.CaptureRef, name: str = "ObjectCreated:Put") -> dict[str, Any]:
    """The S3 event the raw/ trigger delivers for an original."""
    return {"Records": [{"eventName": name, "s3": {"bucket": {"name": BUCKET},
                                                   "object": {"key": quote_plus(ref.raw_key)}}}]}


def imported_ref(s3: Any, device: str) -> layout.CaptureRef:
    """The one original of ``device`` under raw/."""
    (item,) = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"raw/{device}/")["Contents"]
    return layout.parse_key(item["Key"])


def the_thumbnailer(s3: Any) -> Thumbnailer:
    """The thumbnailer as the trigger runs it, reading the device registry afresh."""
    return Thumbnailer(lambda: s3, DeviceRegistry(lambda: s3, BUCKET))


def test_imported_photos_are_not_turned_by_the_cameras_rotation(
    s3: Any, registry: DeviceRegistry, tmp_path: Path
) -> None:
    """Given a camera mounted upside down (rotation 180) and an old upright photo of it, when
    imported and its event is rendered, then the preview stays upright (regression: every
    imported photo was turned by the camera's rotation), and the record says so; when the
    camera's rotation is then changed and its thumbnails re-rendered, it is still upright."""
    registry.add("garden-cam", rotation=180)
    (tmp_path / "20250601_143000.jpg").write_bytes(top_white())

    result = invoke("import", str(tmp_path), "--device", "garden-cam")
    ref = imported_ref(s3, "garden-cam")
    the_thumbnailer(s3).process_event(created_event(ref))

    assert result.exit_code == 0, result.output
    assert "shown as taken (garden-cam's rotation setting does not turn them)" in result.output
    assert s3.head_object(Bucket=BUCKET, Key=ref.raw_key)["Metadata"]["source"] == "import"
    preview = preview_of(s3, ref)
    assert preview.size == (640, 480) and white_half(preview) == "top"
    (record,) = records(s3).values()
    assert (record["source"], record["rotation"], record["status"]) == ("import", 0, "ok")

    changed = invoke("devices", "set", "garden-cam", "--rotation", "90")
    rerendered = invoke("reprocess", "--device", "garden-cam")

    assert changed.exit_code == 0 and rerendered.exit_code == 0, rerendered.output
    assert "imported photos stay as taken unless imported with --apply-rotation" in (
        changed.output)
    preview = preview_of(s3, ref)
    assert preview.size == (640, 480) and white_half(preview) == "top"
    assert records(s3)[ref.meta_key]["rotation"] == 0


def test_import_with_apply_rotation_turns_photos_as_the_camera_turns_its_uploads(
    s3: Any, registry: DeviceRegistry, tmp_path: Path
) -> None:
    """Given a camera with rotation 180 and old photos it took upside down, when imported with
    --apply-rotation, then the preview is turned (the white top ends at the bottom) and the
    record says 180; when the camera's rotation changes to 90 and it is re-rendered, the
    import follows the camera as its uploads do."""
    registry.add("garden-cam", rotation=180)
    (tmp_path / "20250601_143000.jpg").write_bytes(top_white())

    result = invoke("import", str(tmp_path), "--device", "garden-cam", "--apply-rotation")
    ref = imported_ref(s3, "garden-cam")
    the_thumbnailer(s3).process_event(created_event(ref))

    assert result.exit_code == 0, result.output
    assert "turned by garden-cam's rotation setting (180)" in result.output
    assert white_half(preview_of(s3, ref)) == "bottom"
    assert records(s3)[ref.meta_key]["rotation"] == 180

    invoke("devices", "set", "garden-cam", "--rotation", "90")
    rerendered = invoke("reprocess", "--device", "garden-cam")

    assert rerendered.exit_code == 0, rerendered.output
    preview = preview_of(s3, ref)
    # 90 degrees clockwise: the white top becomes the right half of a portrait preview.
    assert preview.size == (480, 640) and white_half(preview) == "right"
    assert records(s3)[ref.meta_key]["rotation"] == 90


def test_reimport_with_the_other_rotation_choice_changes_it_and_renders_again(
    s3: Any, registry: DeviceRegistry, tmp_path: Path
) -> None:
    """Given photos imported without --apply-rotation, when imported again with it, then
    nothing is stored twice, the stored ones are re-marked (their copy event renders them
    turned); a third run with the same choice changes nothing."""
    registry.add("garden-cam", rotation=180)
    (tmp_path / "20250601_143000.jpg").write_bytes(top_white())
    invoke("import", str(tmp_path), "--device", "garden-cam")
    ref = imported_ref(s3, "garden-cam")
    the_thumbnailer(s3).process_event(created_event(ref))

    again = invoke("import", str(tmp_path), "--device", "garden-cam", "--apply-rotation")
    the_thumbnailer(s3).process_event(created_event(ref, "ObjectCreated:Copy"))
    third = invoke("import", str(tmp_path), "--device", "garden-cam", "--apply-rotation")

    assert again.exit_code == 0, again.output
    assert "stored 0, already there 1, skipped 0" in again.output
    assert "1 already imported with the other rotation choice: changed" in again.output
    assert imported_ref(s3, "garden-cam") == ref
    head = s3.head_object(Bucket=BUCKET, Key=ref.raw_key)
    assert head["Metadata"]["apply-rotation"] == "yes" and head["ContentType"] == "image/jpeg"
    assert head["Metadata"]["clock"] == "name"
    assert white_half(preview_of(s3, ref)) == "bottom"
    assert "stored 0, already there 1" in third.output and "changed" not in third.output


def test_import_never_re_marks_a_cameras_upload_of_the_same_photo(
    s3: Any, registry: DeviceRegistry, tmp_path: Path
) -> None:
    """Given a camera's own upload at the key an import of the same bytes lands on, when the
    file is imported, then the upload is left as it is: not re-marked as an import, still
    turned by the camera's rotation."""
    registry.add("garden-cam", rotation=180)
    body = top_white()
    (tmp_path / "20250601_143000.jpg").write_bytes(body)
    sha = hashlib.sha256(body).hexdigest()
    ref = layout.CaptureRef.new("garden-cam", at("2025-06-01T14:30:00+00:00"), sha)
    s3.put_object(Bucket=BUCKET, Key=ref.raw_key, Body=body, ContentType="image/jpeg",
                  Metadata=object_metadata(
                      capture_id=sha, captured_at="2025-06-01T14:30:00.000+00:00",
                      received_at="2025-06-01T14:30:01.000+00:00", clock="device",
                      sha256=sha, size=len(body), telemetry={}))

    result = invoke("import", str(tmp_path), "--device", "garden-cam")
    the_thumbnailer(s3).process_event(created_event(ref))

    assert "stored 0, already there 1" in result.output and "changed" not in result.output
    assert "source" not in s3.head_object(Bucket=BUCKET, Key=ref.raw_key)["Metadata"]
    assert white_half(preview_of(s3, ref)) == "bottom"
    assert records(s3)[ref.meta_key]["source"] == "camera"


def test_photos_imported_before_the_mark_are_not_turned_on_reprocess(
    s3: Any, registry: DeviceRegistry
) -> None:
    """Given a photo imported by an earlier camcloud (no source mark, clock "exif") of a
    camera with rotation 180, when reprocessed, then it is rendered upright as an import."""
    registry.add("garden-cam", rotation=180)
    body = top_white()
    ref = layout.CaptureRef.new("garden-cam", at("2024-12-24T18:00:00+00:00"), "legacy")
    s3.put_object(Bucket=BUCKET, Key=ref.raw_key, Body=body, ContentType="image/jpeg",
                  Metadata={"capture-id": "legacy", "clock": "exif",
                            "captured-at": "2024-12-24T18:00:00.000+00:00"})

    result = invoke("reprocess", "--device", "garden-cam")

    assert result.exit_code == 0, result.output
    assert white_half(preview_of(s3, ref)) == "top"
    record = records(s3)[ref.meta_key]
    assert (record["source"], record["rotation"]) == ("import", 0)


def test_import_help_says_the_cameras_rotation_turns_imports_only_when_asked() -> None:
    """Given a user reading `camcloud import --help`, then the rotation choice is explained."""
    result = invoke("import", "--help")

    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--apply-rotation" in text
    assert "shown as they were taken: DEVICE's rotation setting turns them only with" in text
