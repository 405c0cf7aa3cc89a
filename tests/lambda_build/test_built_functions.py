"""The built time-lapse and alert functions (`sam build` output + CoreLayer) run against moto.

Each function is imported in its own interpreter, as Lambda does (its folder first, then the
layer's python/): every function's module is called ``app``, and the time-lapse artifact's PyAV
and the alert artifact's Apprise and cryptography must be the ones it ships.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

BUILD_DIR = Path(os.environ.get("CAMCLOUD_LAMBDA_BUILD_DIR", ".aws-sam/build")).resolve()
LAYER_DIR = BUILD_DIR / "CoreLayer" / "python"

PRELUDE = """
import json, os, sys
from types import SimpleNamespace
sys.path[:0] = [{function!r}, {layer!r}]
os.environ.update({{
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "CAMCLOUD_BUCKET": "camcloud-built",
    "CAMCLOUD_REGION": "us-east-1", "CAMCLOUD_GALLERY_TIMEZONE": "Europe/Berlin",
    "POWERTOOLS_SERVICE_NAME": {service!r}, "POWERTOOLS_METRICS_NAMESPACE": "camcloud",
}})
for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "CAMCLOUD_S3_ENDPOINT"):
    os.environ.pop(name, None)
from moto import mock_aws
mock = mock_aws()
mock.start()
import boto3
s3 = boto3.client("s3", region_name="us-east-1")
s3.create_bucket(Bucket="camcloud-built")
context = SimpleNamespace(
    function_name={service!r}, function_version="$LATEST", memory_limit_in_mb=1769,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:" + {service!r},
    aws_request_id="6f1c2a52-0d5e-4d7b-9a53-7f8d1c1b2e3f",
    get_remaining_time_in_millis=lambda: 900_000,
)
import app
"""


def run_built(function: str, service: str, body: str) -> dict[str, Any]:
    """Run ``body`` after importing the built function's app; its last stdout line as JSON."""
    assert (BUILD_DIR / function / "app.py").is_file(), f"no build of {function}: sam build"
    script = PRELUDE.format(function=str(BUILD_DIR / function), layer=str(LAYER_DIR),
                            service=service) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_built_timelapse_builds_a_day_with_the_pyav_it_ships() -> None:
    """Given 12 captures of one camera on 2026-11-20 in the bucket, when the built function
    gets the schedule's event of the 21st and then the daily job it fans out, then it queues
    that camera, writes an H.264 MP4 of 12 frames, and its PyAV and Pillow come from the
    artifact; and the gallery's range payload (events/timelapse-range.json) builds the range
    and leaves its jobs/ record done."""
    result = run_built("TimelapseFunction", "camcloud-timelapse", """
        import io, hashlib
        from datetime import UTC, datetime, timedelta
        import av, PIL
        from PIL import Image
        from camcloud import imaging
        from camcloud.layout import CaptureRef
        from camcloud.records import build_record
        from camcloud.s3 import put_json

        start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        for i in range(12):
            at = start + timedelta(minutes=20 * i)
            ref = CaptureRef.new("cam-1", int(at.timestamp() * 1000), f"c{i}")
            out = io.BytesIO()
            Image.new("RGB", (160, 120), (40 + 10 * i, 120, 200 - 10 * i)).save(out, "JPEG")
            body = out.getvalue()
            s3.put_object(Bucket="camcloud-built", Key=ref.preview_key, Body=body)
            stored = {"captured_at": at.isoformat(), "received_at": None, "clock": "device",
                      "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                      "telemetry": {}}
            quality = imaging.quality_signals(Image.open(io.BytesIO(body)))
            put_json(s3, "camcloud-built", ref.meta_key, build_record(
                ref, stored, processed_at="2026-11-21T00:00:00Z", processor="test",
                width=160, height=120, orientation=1, quality=quality))

        invoked = []
        class FakeLambda:
            def invoke(self, **kwargs):
                invoked.append(json.loads(kwargs["Payload"]))
        state = app._container()
        app._container = lambda: app._Container(state.settings, state.client, FakeLambda())

        queued = app.handler({"action": "schedule", "time": "2026-11-20T23:15:00Z"}, context)
        built = app.handler(invoked[0], context)
        # The gallery's custom range, as its LambdaRunner sends it (the sample event).
        with open("events/timelapse-range.json") as sample:
            ranged = app.handler(json.load(sample), context)
        job = json.loads(s3.get_object(Bucket="camcloud-built",
                                       Key="jobs/sample-job-0001.json")["Body"].read())
        video = s3.get_object(Bucket="camcloud-built", Key=built["key"])["Body"].read()
        with av.open(io.BytesIO(video)) as container:
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            codec = stream.codec_context.name
        print(json.dumps({"queued": queued, "invoked": invoked, "built": built,
                          "ranged": ranged, "job": job, "frames": frames, "codec": codec,
                          "av": av.__file__, "pil": PIL.__file__}))
    """)

    assert result["queued"]["devices"] == ["cam-1"]
    assert result["invoked"] == [{"action": "daily", "device": "cam-1", "date": "2026-11-20"}]
    assert result["built"]["status"] == 201
    assert result["built"]["key"] == "timelapse/cam-1/2026-11-20.mp4"
    assert (result["codec"], result["frames"]) == ("h264", 12)
    assert result["ranged"]["status"] == 201 and result["ranged"]["frames_used"] == 12
    assert result["job"]["state"] == "done" and result["job"]["result"]["key"] == (
        result["ranged"]["key"])
    for module in ("av", "pil"):
        assert Path(result[module]).is_relative_to(BUILD_DIR / "TimelapseFunction")


def test_built_alert_check_runs_a_pass_with_its_own_apprise_and_cryptography() -> None:
    """Given the key in SSM, a JSON-webhook target stored with it, the topic and an empty
    dead-letter queue in moto, when the built alert function runs, then the pass completes
    with nothing open and the metric line names no halted rollout."""
    result = run_built("AlertsFunction", "camcloud-alerts", """
        import apprise, cryptography
        from camcloud import notify
        ssm = boto3.client("ssm", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        sns = boto3.client("sns", region_name="us-east-1")
        key = notify.new_key()
        ssm.put_parameter(Name="/camcloud/camcloud/alerts-key", Value=key, Type="SecureString")
        notify.TargetStore(s3, "camcloud-built", key).add_target("json://127.0.0.1:9/hook")
        os.environ["CAMCLOUD_ALERTS_KEY_PARAMETER"] = "/camcloud/camcloud/alerts-key"
        os.environ["CAMCLOUD_ALERTS_TOPIC_ARN"] = sns.create_topic(Name="alarms")["TopicArn"]
        os.environ["CAMCLOUD_ALERTS_DLQ_URL"] = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        answer = app.handler({"action": "check"}, context)
        print(json.dumps({"answer": answer, "apprise": apprise.__file__,
                          "cryptography": cryptography.__file__}))
    """)

    assert (result["answer"]["open"], result["answer"]["rollout_halted"]) == (0, None)
    for module in ("apprise", "cryptography"):
        assert Path(result[module]).is_relative_to(BUILD_DIR / "AlertsFunction")
