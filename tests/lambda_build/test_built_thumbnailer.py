"""The `sam build` artifact (function + CoreLayer) processes real S3 events against moto."""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from moto import mock_aws

BUILD_DIR = Path(os.environ.get("CAMCLOUD_LAMBDA_BUILD_DIR", ".aws-sam/build")).resolve()
FUNCTION_DIR = BUILD_DIR / "ThumbnailerFunction"
LAYER_DIR = BUILD_DIR / "CoreLayer" / "python"
EVENTS = Path(__file__).resolve().parents[2] / "events"


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/, as S3 would deliver it."""
    return json.loads((EVENTS / name).read_text())


def only_key(event: dict[str, Any]) -> tuple[str, str]:
    """The bucket and (decoded) key of a one-record event."""
    (record,) = event["Records"]
    return record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"])


# What template.yaml sets for the function; powertools reads it when app is imported.
POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME": "camcloud-thumbnailer",
                  "POWERTOOLS_METRICS_NAMESPACE": "camcloud"}


@pytest.fixture(scope="module")
def lambda_module() -> Iterator[Any]:
    """Import app.handler as Lambda does: /var/task first, then the layer's /opt/python."""
    assert (FUNCTION_DIR / "app.py").is_file(), f"no build at {FUNCTION_DIR}: run sam build"
    saved_path, saved_env = list(sys.path), dict(os.environ)
    sys.path[:0] = [str(FUNCTION_DIR), str(LAYER_DIR)]
    os.environ.update(POWERTOOLS_ENV)
    try:
        yield importlib.import_module("app")
    finally:
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_env)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and moto's mock, so nothing can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "CAMCLOUD_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


def jpeg(width: int, height: int) -> bytes:
    """A 3 MP-sized JPEG made with the artifact's own Pillow."""
    from PIL import Image

    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def lambda_context() -> Any:
    """The attributes Lambda's context object offers."""
    return SimpleNamespace(
        function_name="camcloud-ThumbnailerFunction",
        memory_limit_in_mb=1024,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:thumbnailer",
        aws_request_id="6f1c2a52-0d5e-4d7b-9a53-7f8d1c1b2e3f",
        get_remaining_time_in_millis=lambda: 30_000,
    )


def test_the_artifact_imports_only_what_it_ships(lambda_module: Any) -> None:
    """Given the build, when app is imported, then camcloud and Pillow come from the artifact."""
    import PIL

    import camcloud

    assert Path(camcloud.__file__).is_relative_to(LAYER_DIR)
    assert Path(PIL.__file__).is_relative_to(FUNCTION_DIR)
    assert Path(lambda_module.__file__).is_relative_to(FUNCTION_DIR)


def test_put_event_makes_thumbnail_preview_and_record_then_delete_removes_them(
    lambda_module: Any, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given an original in raw/, when its events arrive, then derived objects come and go."""
    put_event = load_event("s3-put-raw.json")
    bucket, raw_key = only_key(put_event)
    monkeypatch.setenv("CAMCLOUD_BUCKET", bucket)
    monkeypatch.setenv("CAMCLOUD_REGION", "us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=raw_key, Body=jpeg(2048, 1536), ContentType="image/jpeg")
    handler = lambda_module.handler

    # When the upload's event is delivered
    handler(put_event, lambda_context())

    # Then the thumbnail, the preview and the record exist, sized as docs/protocol.md says
    stem = raw_key.removeprefix("raw/garden-cam/").removesuffix(".jpg")
    thumb = s3.get_object(Bucket=bucket, Key=f"thumbs/garden-cam/{stem}.jpg")["Body"].read()
    preview = s3.get_object(Bucket=bucket, Key=f"previews/garden-cam/{stem}.jpg")["Body"].read()
    rev, capture_id = stem.split("_", 1)
    record_key = f"meta/{rev}_garden-cam_{capture_id}.json"
    record = json.loads(s3.get_object(Bucket=bucket, Key=record_key)["Body"].read())
    from PIL import Image

    assert max(Image.open(io.BytesIO(thumb)).size) == 320
    assert max(Image.open(io.BytesIO(preview)).size) == 1024
    assert record["status"] == "ok"
    assert (record["width"], record["height"]) == (2048, 1536)

    # When the original is deleted and its event delivered
    s3.delete_object(Bucket=bucket, Key=raw_key)
    handler(load_event("s3-delete-raw.json"), lambda_context())

    # Then nothing made from it is left (status/ holds the function's last-seen summary for
    # the alert check, not an object made from the capture)
    left = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [item["Key"] for item in left if not item["Key"].startswith("status/")] == []
