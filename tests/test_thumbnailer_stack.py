"""The thumbnailer in the local stack: SQS-delivered S3 events, the same handler as Lambda."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageStat

from camcloud import layout
from camcloud_cli import main


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def record_or_none(stack: Any, ref: layout.CaptureRef) -> dict[str, Any] | None:
    """The capture's record, once the worker has written it."""
    try:
        body = stack.s3.get_object(Bucket=stack.bucket, Key=ref.meta_key)["Body"].read()
    except stack.s3.exceptions.NoSuchKey:
        return None
    document = json.loads(body)
    assert isinstance(document, dict)
    return document


def exists(stack: Any, key: str) -> bool:
    """Whether ``key`` is in the local bucket."""
    return bool(stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=key).get("KeyCount"))


def test_a_corrupt_original_gets_an_error_record_and_tiles_then_goes_with_its_original(
    local_stack: Any,
) -> None:
    """Given a corrupt original written straight to raw/ (bypassing the ingest's checks), when
    the worker delivers its event, then an error record and placeholder tiles appear; when the
    original is deleted, then all of it goes."""
    ref = layout.CaptureRef.new("demo-cam", 1_790_000_000_000, "corrupt-1")
    local_stack.s3.put_object(Bucket=local_stack.bucket, Key=ref.raw_key,
                              Body=b"\xff\xd8\xff\xe0 this is not really a JPEG")

    record = wait_for(lambda: record_or_none(local_stack, ref))

    assert record is not None and record["status"] == "error"
    assert record["error_code"] == "corrupt"
    thumb = local_stack.s3.get_object(Bucket=local_stack.bucket, Key=ref.thumb_key)
    assert Image.open(io.BytesIO(thumb["Body"].read())).size == (320, 240)

    local_stack.s3.delete_object(Bucket=local_stack.bucket, Key=ref.raw_key)

    assert wait_for(lambda: not exists(local_stack, ref.meta_key))
    assert not exists(local_stack, ref.thumb_key) and not exists(local_stack, ref.preview_key)


def test_reprocess_repairs_a_lost_thumbnail_in_the_local_stack(local_stack: Any) -> None:
    """Given a rendered capture whose thumbnail was lost, when `camcloud reprocess --device`
    runs against the local stack, then the thumbnail is back."""
    ref = layout.CaptureRef.new("demo-cam", 1_790_000_100_000, "repair-1")
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), (200, 160, 40)).save(out, "JPEG")
    local_stack.s3.put_object(Bucket=local_stack.bucket, Key=ref.raw_key, Body=out.getvalue())
    assert wait_for(lambda: record_or_none(local_stack, ref))
    local_stack.s3.delete_object(Bucket=local_stack.bucket, Key=ref.thumb_key)

    result = CliRunner().invoke(main, ["reprocess", "--device", "demo-cam"], env={
        "CAMCLOUD_BUCKET": local_stack.bucket,
        "CAMCLOUD_REGION": local_stack.settings.region,
        "CAMCLOUD_S3_ENDPOINT": local_stack.info["s3_endpoint"],
    })

    assert result.exit_code == 0, result.output
    thumb = local_stack.s3.get_object(Bucket=local_stack.bucket, Key=ref.thumb_key)
    assert Image.open(io.BytesIO(thumb["Body"].read())).size == (320, 240)


def stack_command(stack: Any, *args: str) -> Any:
    """Run the camcloud command against the local stack's bucket."""
    return CliRunner().invoke(main, list(args), env={
        "CAMCLOUD_BUCKET": stack.bucket,
        "CAMCLOUD_REGION": stack.settings.region,
        "CAMCLOUD_S3_ENDPOINT": stack.info["s3_endpoint"],
    })


def top_is_white(stack: Any, ref: layout.CaptureRef) -> bool:
    """Whether the capture's preview is brighter in its top half than in its bottom half."""
    body = stack.s3.get_object(Bucket=stack.bucket, Key=ref.preview_key)["Body"].read()
    grey = Image.open(io.BytesIO(body)).convert("L")
    width, height = grey.size
    top = ImageStat.Stat(grey.crop((0, 0, width, height // 2))).mean[0]
    bottom = ImageStat.Stat(grey.crop((0, height // 2, width, height))).mean[0]
    return top > bottom


def test_an_import_renders_upright_and_turns_once_reimported_with_apply_rotation(
    local_stack: Any, tmp_path: Path
) -> None:
    """Given a camera registered with rotation 180 and an old upright photo of it, when it is
    imported into the local stack, then the worker renders it upright; when it is imported
    again with --apply-rotation, then its copy event makes the worker render it turned."""
    image = Image.new("RGB", (640, 480), (0, 0, 0))
    ImageDraw.Draw(image).rectangle((0, 0, 639, 239), fill=(255, 255, 255))
    image.save(tmp_path / "20250601_143000.jpg", "JPEG", quality=90)
    assert stack_command(local_stack, "devices", "add", "old-cam", "--rotation", "180"
                         ).exit_code == 0

    imported = stack_command(local_stack, "import", str(tmp_path), "--device", "old-cam")
    (item,) = local_stack.s3.list_objects_v2(Bucket=local_stack.bucket,
                                             Prefix="raw/old-cam/")["Contents"]
    ref = layout.parse_key(item["Key"])
    first = wait_for(lambda: record_or_none(local_stack, ref))

    assert imported.exit_code == 0, imported.output
    assert first is not None and (first["source"], first["rotation"]) == ("import", 0)
    assert top_is_white(local_stack, ref)

    again = stack_command(local_stack, "import", str(tmp_path), "--device", "old-cam",
                          "--apply-rotation")
    turned = wait_for(lambda: (record_or_none(local_stack, ref) or {}).get("rotation") == 180)

    assert again.exit_code == 0, again.output
    assert turned and not top_is_white(local_stack, ref)
