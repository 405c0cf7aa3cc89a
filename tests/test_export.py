"""Export: a day or a range of one camera as a ZIP built as a stream, capture time in names."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

from camcloud import export
from camcloud.layout import CaptureRef
from tests.conftest import BUCKET, jpeg_bytes
from tests.test_status import RequestCounter


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> int:
    """Unix milliseconds of a time in 2026, UTC."""
    return int(datetime(2026, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


def put_capture(s3: Any, device: str, captured_ms: int, capture_id: str, body: bytes) -> CaptureRef:
    """Store an original as the ingest does."""
    ref = CaptureRef.new(device, captured_ms, capture_id)
    s3.put_object(Bucket=BUCKET, Key=ref.raw_key, Body=body)
    return ref


def unzip(chunks: list[bytes]) -> dict[str, bytes]:
    """The members of a ZIP given as chunks, after checking every CRC."""
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_day_export_holds_exactly_that_days_captures_named_by_capture_time(s3: Any) -> None:
    # Given captures of cam-1 on the 29th, the 30th (three) and the 1st, and of other cameras
    bodies = {n: jpeg_bytes(colour=(n * 40, 90, 120)) for n in range(6)}
    put_capture(s3, "cam-1", at(29, 23, 59, 59), "before", bodies[0])
    put_capture(s3, "cam-1", at(30, 0, 0, 0), "midnight", bodies[1])
    put_capture(s3, "cam-1", at(30, 14, 5, 9), "a1", bodies[2])
    put_capture(s3, "cam-1", at(30, 23, 59, 59), "late", bodies[3])
    put_capture(s3, "cam-1", at(1, 0, 0, 0, month=12), "after", bodies[4])
    put_capture(s3, "cam-10", at(30, 12), "other", bodies[5])
    put_capture(s3, "cam-2", at(30, 12), "other", bodies[5])
    # When the 30th is exported
    since, until = export.day_range("2026-11-30")
    members = unzip(list(export.export_zip(s3, BUCKET, "cam-1", since, until)))
    # Then the archive holds exactly that day's three originals, byte for byte
    assert members == {
        "2026-11-30_00-00-00_cam-1_midnight.jpg": bodies[1],
        "2026-11-30_14-05-09_cam-1_a1.jpg": bodies[2],
        "2026-11-30_23-59-59_cam-1_late.jpg": bodies[3],
    }
    assert export.export_file_name("cam-1", since, until) == "cam-1_2026-11-30.zip"


def test_day_follows_the_time_zone(s3: Any) -> None:
    # Given a capture at 23:30 UTC on the 29th: the 30th in Berlin
    put_capture(s3, "cam-1", at(29, 23, 30), "x", b"jpeg")
    since, until = export.day_range("2026-11-30", "Europe/Berlin")
    names = list(unzip(list(export.export_zip(s3, BUCKET, "cam-1", since, until,
                                              timezone="Europe/Berlin"))))
    assert names == ["2026-11-30_00-30-00_cam-1_x.jpg"]


def test_range_export_spans_listing_pages_and_is_streamed(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 25 captures and listing pages of 10 keys
    monkeypatch.setattr(export, "LIST_PAGE", 10)
    for n in range(25):
        put_capture(s3, "cam-1", at(30, 10, n), f"c{n}", jpeg_bytes())
    counter = RequestCounter(s3)
    # When the export starts
    stream = export.export_zip(s3, BUCKET, "cam-1", at(30, 10, 2), at(30, 10, 22))
    first = next(stream)
    # Then bytes flow after one listing page and one original, not after all of them
    assert first.startswith(b"PK\x03\x04")
    assert counter.calls == {"ListObjectsV2": 1, "GetObject": 1}
    members = unzip([first, *stream])
    # And the range [10:02, 10:22) is complete: 20 captures; the listing starts after the newer
    # ones and stops at the first older one (third page)
    assert len(members) == 20
    assert counter.calls == {"ListObjectsV2": 3, "GetObject": 20}
    assert "2026-11-30_10-02-00_cam-1_c2.jpg" in members
    assert "2026-11-30_10-22-00_cam-1_c22.jpg" not in members


def test_empty_day_is_a_valid_empty_zip(s3: Any) -> None:
    since, until = export.day_range("2026-11-30")
    assert unzip(list(export.export_zip(s3, BUCKET, "cam-1", since, until))) == {}


@pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "", "2026-11-31"])
def test_bad_date_is_refused_with_a_message(day: str) -> None:
    with pytest.raises(export.ExportError, match="invalid date"):
        export.day_range(day)


def test_bad_range_zone_and_device_are_refused(s3: Any) -> None:
    with pytest.raises(export.ExportError, match="empty"):
        list(export.export_zip(s3, BUCKET, "cam-1", at(30, 12), at(30, 11)))
    with pytest.raises(export.ExportError, match="time zone"):
        export.day_range("2026-11-30", "Nowhere/City")
    with pytest.raises(ValueError, match="device id"):
        list(export.export_zip(s3, BUCKET, "../users", at(30, 11), at(30, 12)))


def test_upload_stream_writes_the_zip_in_parts(s3: Any) -> None:
    # Given three 4 MiB originals (an archive over two 5 MiB parts)
    for n in range(3):
        put_capture(s3, "cam-1", at(30, 12, n), f"big{n}", os.urandom(4 * 1024 * 1024))
    since, until = export.day_range("2026-11-30")
    # When the background job writes the export to S3
    written = export.upload_stream(s3, BUCKET, "exports/x.zip",
                                   export.export_zip(s3, BUCKET, "cam-1", since, until),
                                   part_size=5 * 1024 * 1024)
    # Then the object is the whole, valid archive
    body = s3.get_object(Bucket=BUCKET, Key="exports/x.zip")["Body"].read()
    assert len(body) == written
    assert len(unzip([body])) == 3


def test_failed_upload_stream_is_aborted(s3: Any) -> None:
    def broken() -> Any:
        yield b"x" * 100
        raise RuntimeError("listing failed")

    with pytest.raises(RuntimeError):
        export.upload_stream(s3, BUCKET, "exports/y.zip", broken())
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_abandoned_download_frees_the_directory(s3: Any) -> None:
    # Given an export the browser stops reading after the first bytes
    put_capture(s3, "cam-1", at(30, 12), "x", jpeg_bytes())
    since, until = export.day_range("2026-11-30")
    stream = export.export_zip(s3, BUCKET, "cam-1", since, until)
    next(stream)
    # When the server closes it, no temporary file is left open (warnings are errors here)
    stream.close()


def test_archive_over_65535_members_uses_zip64_and_stays_readable(tmp_path: Any) -> None:
    # Given a ZIP of 70,000 (empty) members, more than the classic end record can count
    writer = export.ZipWriter()
    moment = datetime(2026, 11, 30, 12, tzinfo=UTC)
    path = tmp_path / "many.zip"
    with path.open("wb") as out:
        for n in range(70_000):
            out.write(writer.begin(f"f{n}.jpg", moment))
            out.write(writer.data(b"x"))
            out.write(writer.end())
        for chunk in writer.finish():
            out.write(chunk)
    writer.close()
    # Then zipfile reads every member back
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert len(names) == 70_000 and archive.read("f69999.jpg") == b"x"
