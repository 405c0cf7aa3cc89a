"""Seeding captures for the time-lapse tests: real JPEG previews and thumbnailer-made records."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageDraw, ImageStat

from camcloud import imaging
from camcloud.layout import CaptureRef
from camcloud.records import build_record
from camcloud.s3 import put_json

NOT_A_JPEG = b"\xff\xd8\xff\xe0 this preview was truncated"


def preview_jpeg(level: int, width: int = 160, height: int = 120, mark: int = 0) -> bytes:
    """A grey preview of brightness ``level`` with a small mark so frames differ."""
    image = Image.new("RGB", (width, height), (level, level, level))
    ImageDraw.Draw(image).rectangle((mark % width, 0, mark % width + 3, 3), fill=(level, 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def seed(
    s3: Any,
    bucket: str,
    device: str,
    at: datetime,
    capture_id: str,
    *,
    level: int = 128,
    preview: bytes | None = None,
    sha256: str | None = None,
    status: str = "ok",
    record: bool = True,
    width: int = 160,
    height: int = 120,
) -> CaptureRef:
    """Store one capture as the thumbnailer leaves it: preview, then record (dark from level)."""
    ref = CaptureRef.new(device, int(at.timestamp() * 1000), capture_id)
    body = preview if preview is not None else preview_jpeg(level, width, height,
                                                            mark=len(capture_id) * 7)
    s3.put_object(Bucket=bucket, Key=ref.preview_key, Body=body, ContentType="image/jpeg")
    if record:
        stored: dict[str, Any] = {
            "captured_at": at.astimezone(UTC).isoformat(), "received_at": None,
            "clock": "device", "bytes": len(body),
            "sha256": sha256 or hashlib.sha256(body + capture_id.encode()).hexdigest(),
            "telemetry": {}}
        if status == "error":
            document = build_record(ref, stored, processed_at="2026-11-21T00:00:00Z",
                                    processor="test", error="not a JPEG",
                                    error_code="not_jpeg")
        else:
            try:
                quality = imaging.quality_signals(Image.open(io.BytesIO(body)))
            except OSError:  # a preview that went bad after its record was written
                quality = {"brightness": 128.0, "dark": False}
            document = build_record(ref, stored, processed_at="2026-11-21T00:00:00Z",
                                    processor="test", width=width, height=height,
                                    orientation=1, quality=quality)
        put_json(s3, bucket, ref.meta_key, document)
    return ref


def decode_video(path: Path) -> dict[str, Any]:
    """What a player sees in the video: codec, pixel format, size, frames, duration, lumas."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        lumas = []
        for frame in container.decode(stream):
            gray = frame.to_image().convert("L")  # type: ignore[no-untyped-call]
            lumas.append(ImageStat.Stat(gray).mean[0])
        return {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "frames": len(lumas),
            "duration_s": float(container.duration or 0) / av.time_base,
            "rate": float(stream.average_rate or 0),
            "lumas": lumas,
        }


def download(s3: Any, bucket: str, key: str, path: Path) -> Path:
    """Fetch ``key`` into ``path``."""
    s3.download_file(bucket, key, str(path))
    return path
