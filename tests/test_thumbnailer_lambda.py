"""The Lambda entry point as a fresh container runs it: lean imports, JSON logs, EMF metrics.

Each test runs a new interpreter, so that what ``import app`` pulls in is exactly what a cold
start pays for, and powertools' logging set-up never touches this test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

IMPORT_ONLY = """
import json, sys
import lambdas.thumbnailer.app
print(json.dumps(sorted(sys.modules)))
"""

# Import first (the cold start), then start moto and invoke as Lambda would.
INVOKE = """
import io, json, sys
from types import SimpleNamespace
import lambdas.thumbnailer.app as app
import boto3
from moto import mock_aws
from PIL import Image

with mock_aws():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="camcloud-123456789012-us-east-1")
    event = json.load(open("events/s3-put-multi.json"))
    good, bad, _ = [r["s3"]["object"]["key"] for r in event["Records"]]
    out = io.BytesIO()
    Image.new("RGB", (2048, 1536), (90, 120, 160)).save(out, "JPEG")
    s3.put_object(Bucket="camcloud-123456789012-us-east-1", Key=good, Body=out.getvalue())
    s3.put_object(Bucket="camcloud-123456789012-us-east-1", Key=bad, Body=b"not a jpeg")
    context = SimpleNamespace(aws_request_id="6f1c2a52-0d5e-4d7b-9a53-7f8d1c1b2e3f",
                              function_name="camcloud-thumbnailer", memory_limit_in_mb=1024,
                              invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:"
                                                   "function:camcloud-thumbnailer")
    summary = app.handler(event, context)
    app.handler(json.load(open("events/s3-test-event.json")), context)
    print("SUMMARY " + json.dumps(summary))
"""


def run(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter from the repository root."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("AWS_", "CAMCLOUD_", "POWERTOOLS_"))}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120, check=True)


def test_cold_start_imports_neither_flask_nor_moto() -> None:
    """Given a fresh interpreter, when the handler module is imported, then no web framework,
    test double or powertools module is loaded (powertools loads on the first invocation)."""
    modules = json.loads(run(IMPORT_ONLY).stdout)

    heavy = [name for name in modules
             if name.split(".")[0] in {"flask", "werkzeug", "jinja2", "moto", "click", "tqdm"}]
    assert heavy == []
    assert "PIL.Image" in modules and "boto3" in modules


def test_lambda_invocation_logs_json_and_publishes_metrics() -> None:
    """Given the environment the template sets, when the entry point handles a batch with a
    good and a bad original, then every log line is JSON with the request id and the EMF
    metrics count one capture rendered and one bad original by reason."""
    done = run(INVOKE, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", CAMCLOUD_BUCKET="camcloud-123456789012-us-east-1",
               CAMCLOUD_REGION="us-east-1", POWERTOOLS_SERVICE_NAME="camcloud-thumbnailer",
               POWERTOOLS_METRICS_NAMESPACE="camcloud")

    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = json.loads(lines.pop()[len("SUMMARY "):])
    assert summary["processed"] == 1 and list(summary["errors"].values()) == ["not_jpeg"]
    documents = [json.loads(line) for line in lines]
    logs = [doc for doc in documents if "_aws" not in doc]
    emf = [doc for doc in documents if "_aws" in doc]
    messages = {doc["message"] for doc in logs}
    assert {"capture rendered", "bad original"} <= messages
    for doc in logs:
        assert doc["service"] == "camcloud-thumbnailer"
        assert doc["request_id"] == "6f1c2a52-0d5e-4d7b-9a53-7f8d1c1b2e3f"
    bad = next(doc for doc in logs if doc["message"] == "bad original")
    assert bad["reason"] == "not_jpeg" and bad["level"] == "WARNING"
    first = metrics_of(emf[0])
    assert first["CapturesRendered"] == [1] and first["BadOriginals"] == [1]
    assert first["CaptureFailures"] == [0] and len(first["CaptureDuration"]) == 3
    by_reason = [doc for doc in emf if doc.get("reason") == "not_jpeg"]
    assert len(by_reason) == 1 and metrics_of(by_reason[0])["BadOriginals"] == [1]
    # The test event still flushes a (zero) figure rather than a warning.
    assert metrics_of(emf[-1])["CapturesRendered"] == [0]


def metrics_of(document: dict[str, Any]) -> dict[str, Any]:
    """The metric values of one EMF document, by name, each as a list."""
    names = [metric["Name"] for directive in document["_aws"]["CloudWatchMetrics"]
             for metric in directive["Metrics"]]
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "camcloud"
    values = {name: document[name] for name in names}
    return {name: value if isinstance(value, list) else [value] for name, value in values.items()}
