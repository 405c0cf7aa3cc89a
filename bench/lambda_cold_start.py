"""Thumbnailer Lambda cold start: ``import app`` plus the first event, in fresh interpreters.

    .venv/bin/python bench/lambda_cold_start.py [--runs 15] [--baseline OLD_APP.py ...]

Each run is a new Python process (a new Lambda container): it times ``import
lambdas.thumbnailer.app`` (what the Init phase pays), then starts moto, puts one 2048x1536
original and times the first ``app.handler(event, context)`` (settings, powertools logger and
metrics, S3 client, render, writes). moto is imported between the two timings, never inside
them, so neither figure includes the test double's own import. The median and the spread of
``--runs`` runs are printed, as wall time and as the process's CPU time (less disturbed by
other work on a shared machine). With ``--baseline``, a second entry module (e.g. an earlier
``app.py`` saved with ``git show``) is run alternately with the current one, so both see the
same machine. Not a test: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import importlib, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
app = importlib.import_module(sys.argv[1])
imported, cpu_imported = time.perf_counter(), time.process_time()

import io, json
from types import SimpleNamespace
import boto3
from moto import mock_aws
from PIL import Image

with mock_aws():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="camcloud-123456789012-us-east-1")
    event = json.load(open("events/s3-put-raw.json"))
    key = event["Records"][0]["s3"]["object"]["key"]
    out = io.BytesIO()
    Image.new("RGB", (2048, 1536), (90, 120, 160)).save(out, "JPEG")
    s3.put_object(Bucket="camcloud-123456789012-us-east-1", Key=key, Body=out.getvalue())
    context = SimpleNamespace(aws_request_id="bench", function_name="camcloud-thumbnailer",
                              memory_limit_in_mb=1024,
                              invoked_function_arn="arn:aws:lambda:us-east-1:1:function:t")
    before, cpu_before = time.perf_counter(), time.process_time()
    app.handler(event, context)
    first, cpu_first = time.perf_counter(), time.process_time()
print("TIMES " + json.dumps({"import_ms": (imported - started) * 1000,
                             "first_event_ms": (first - before) * 1000,
                             "import_cpu_ms": (cpu_imported - cpu_started) * 1000,
                             "first_event_cpu_ms": (cpu_first - cpu_before) * 1000}))
"""


def one_run(module: str, path: str | None = None) -> dict[str, float]:
    """Time one cold start of entry module ``module`` in a fresh interpreter."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("AWS_", "CAMCLOUD_", "POWERTOOLS_"))}
    environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION="us-east-1",
                   CAMCLOUD_BUCKET="camcloud-123456789012-us-east-1",
                   CAMCLOUD_REGION="us-east-1", POWERTOOLS_SERVICE_NAME="camcloud-thumbnailer",
                   POWERTOOLS_METRICS_NAMESPACE="camcloud")
    if path:
        environ["PYTHONPATH"] = path
    done = subprocess.run([sys.executable, "-c", CHILD, module], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("TIMES "))
    times: dict[str, float] = json.loads(line[len("TIMES "):])
    return times


def report(label: str, runs: list[dict[str, float]]) -> None:
    """Print the median and range of each figure."""
    print(label)
    for name in ("import_ms", "first_event_ms", "import_cpu_ms", "first_event_cpu_ms"):
        values = [run[name] for run in runs]
        print(f"  {name:<20} median {statistics.median(values):7.1f} ms   "
              f"range {min(values):7.1f} .. {max(values):7.1f} ms   ({len(runs)} runs)")
    for kind in ("", "_cpu"):
        totals = [run[f"import{kind}_ms"] + run[f"first_event{kind}_ms"] for run in runs]
        print(f"  {'cold_start' + kind + '_ms':<20} median {statistics.median(totals):7.1f} ms")


def main() -> None:
    """Run the cold starts (alternating with the baseline, if any) and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", type=Path, action="append", default=[],
                        help="another entry module file to compare with, run alternately "
                             "(may be given more than once)")
    args = parser.parse_args()
    entries = {"current lambdas/thumbnailer/app.py": ("lambdas.thumbnailer.app", None)}
    for given in args.baseline:
        baseline = given.resolve()
        entries[f"baseline {given}"] = (baseline.stem, str(baseline.parent))
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in entries}
    for module, path in entries.values():
        one_run(module, path)  # warm the file cache and the .pyc files, as a deployed image has
    for _ in range(args.runs):
        for label, (module, path) in entries.items():
            runs[label].append(one_run(module, path))
    for label, figures in runs.items():
        report(label, figures)
    current, *others = runs
    for other in others:
        # Run by run (both ran back to back on the same machine): steadier than two medians.
        differences = [
            (mine["import_cpu_ms"] + mine["first_event_cpu_ms"])
            - (theirs["import_cpu_ms"] + theirs["first_event_cpu_ms"])
            for mine, theirs in zip(runs[current], runs[other], strict=True)
        ]
        faster = sum(difference < 0 for difference in differences)
        print(f"current - {other.removeprefix('baseline ')}: cold start CPU median "
              f"{statistics.median(differences):+.1f} ms per pair; current faster in "
              f"{faster} of {len(differences)} pairs")


if __name__ == "__main__":
    main()
