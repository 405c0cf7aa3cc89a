"""Ingest metrics summed over gunicorn workers: pure file logic, no S3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ingest.metrics import Metrics


def exited_pid() -> int:
    """The pid of a process that has already exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_workers_counters_are_summed(tmp_path: Path) -> None:
    # Given another worker's counters on disk
    other = {"uploads": {"stored": 3}, "rejects": {"not_jpeg": 1}, "bytes": 300,
             "latency_buckets": [1, 2], "latency_count": 4, "latency_sum": 0.5}
    (tmp_path / "1.json").write_text(json.dumps(other))
    # When this worker counts its own and renders
    metrics = Metrics(tmp_path)
    metrics.upload("stored", 100, 0.003)
    metrics.reject("too_large", 0.001)
    text = metrics.render(lambda: {"spool_entries": 2})
    # Then the figures are the sums
    assert 'camcloud_ingest_uploads_total{outcome="stored"} 4' in text
    assert 'camcloud_ingest_rejects_total{reason="not_jpeg"} 1' in text
    assert 'camcloud_ingest_rejects_total{reason="too_large"} 1' in text
    assert "camcloud_ingest_bytes_total 400" in text
    assert 'camcloud_ingest_request_seconds_bucket{le="0.005"} 3' in text
    assert "camcloud_ingest_request_seconds_count 6" in text
    assert "camcloud_ingest_spool_entries 2" in text


def test_exited_workers_are_folded_into_the_archive(tmp_path: Path) -> None:
    # Given the files of two workers that have exited, and a corrupt one
    for pid, stored in ((exited_pid(), 5), (exited_pid(), 7)):
        (tmp_path / f"{pid}.json").write_text(json.dumps({"uploads": {"stored": stored}}))
    # When a new worker starts
    metrics = Metrics(tmp_path)
    # Then their counts are kept in one archive file, and still reported
    names = sorted(path.name for path in tmp_path.glob("*.json"))
    assert names == ["archive.json"]
    assert metrics.totals()["uploads"] == {"stored": 12}
    # and a later fold adds to the archive rather than replacing it
    (tmp_path / f"{exited_pid()}.json").write_text(json.dumps({"uploads": {"stored": 1}}))
    assert Metrics(tmp_path).totals()["uploads"] == {"stored": 13}


def test_unreadable_files_count_as_nothing(tmp_path: Path) -> None:
    (tmp_path / "1.json").write_text("{not json")
    (tmp_path / "2.json").write_text(json.dumps({"uploads": {"stored": "many"}, "bytes": 5}))
    metrics = Metrics(tmp_path)
    assert metrics.totals()["uploads"] == {}
