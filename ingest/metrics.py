"""Ingest metrics in Prometheus text format, summed over every gunicorn worker.

Each worker process counts in memory and writes its counters to ``{dir}/{pid}.json`` at most
once a second; ``/metrics`` adds up every file, so the figures do not depend on which worker
answers the scrape, and they stay monotonic when a worker is recycled: a new worker folds the
files of workers that have exited into ``archive.json``, so the directory does not grow.
The text itself is ``prometheus_client``'s, from a custom collector over those sums.

Why not ``prometheus_client``'s own multiprocess mode: it keeps one mmap file per process
that ever lived and never folds the files of dead processes together (``mark_process_dead``
only drops live gauges), so with gunicorn recycling workers every ~20,000 requests the
directory, and the work of every scrape, would grow for the life of the host.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import CollectorRegistry

from camcloud.files import atomic_write

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GAUGE_HELP = {
    "spool_entries": "Captures waiting in the local spool.",
    "spool_bytes": "Bytes waiting in the local spool.",
    "spool_max_bytes": "The spool's size limit.",
    "s3_breaker_open": "1 while uploads go straight to the spool after an S3 failure.",
}
FLUSH_SECONDS = 1.0


def _empty() -> dict[str, Any]:
    return {
        "uploads": {},  # outcome -> count (stored, duplicate, queued)
        "rejects": {},  # error code -> count
        "bytes": 0,
        "drained": {},  # created | duplicate -> count
        "s3_errors": 0,
        "latency_buckets": [0] * len(LATENCY_BUCKETS),
        "latency_count": 0,
        "latency_sum": 0.0,
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _empty()
    return document if isinstance(document, dict) else _empty()


def _sum(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Counters added up, field by field (malformed values count as nothing)."""
    total = _empty()
    for document in documents:
        try:
            for group in ("uploads", "rejects", "drained"):
                for name, count in document.get(group, {}).items():
                    total[group][name] = total[group].get(name, 0) + int(count)
            for name in ("bytes", "s3_errors", "latency_count"):
                total[name] += int(document.get(name, 0))
            total["latency_sum"] += float(document.get("latency_sum", 0.0))
            buckets = document.get("latency_buckets", [])[: len(LATENCY_BUCKETS)]
            for index, count in enumerate(buckets):
                total["latency_buckets"][index] += int(count)
        except (AttributeError, TypeError, ValueError):
            continue
    return total


class Metrics:
    """Counters and a latency histogram for one process, shared through ``directory``."""

    def __init__(self, directory: str | Path | None) -> None:
        self._directory = Path(directory) if directory else None
        self._lock = threading.Lock()
        self._data = _empty()
        self._dirty = False
        self._flushed_at = 0.0
        self._pid = os.getpid()
        if self._directory is not None:
            self._fold_exited_workers()

    def _fold_exited_workers(self) -> None:
        """Add the counters of workers that have exited to ``archive.json``; drop their files."""
        assert self._directory is not None
        try:
            with open(self._directory / ".lock", "a+b") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                archive_path = self._directory / "archive.json"
                exited = []
                for path in self._directory.glob("*.json"):
                    if not path.stem.isdigit() or _alive(int(path.stem)):
                        continue
                    exited.append(path)
                if not exited:
                    return
                documents = [_read(archive_path)] + [_read(path) for path in exited]
                atomic_write(archive_path, json.dumps(_sum(documents)).encode("utf-8"))
                for path in exited:
                    path.unlink(missing_ok=True)
        except OSError:
            return

    def _inc(self, group: str, name: str, amount: int = 1) -> None:
        table = self._data[group]
        table[name] = table.get(name, 0) + amount

    def upload(self, outcome: str, size: int, seconds: float) -> None:
        """Count an accepted upload (stored, duplicate, queued)."""
        with self._lock:
            self._inc("uploads", outcome)
            self._data["bytes"] += size
            self._observe(seconds)
        self._maybe_flush()

    def reject(self, code: str, seconds: float) -> None:
        """Count a refused upload by its error code."""
        with self._lock:
            self._inc("rejects", code)
            self._observe(seconds)
        self._maybe_flush()

    def s3_error(self) -> None:
        """Count a failed S3 call on the upload path."""
        with self._lock:
            self._data["s3_errors"] += 1
            self._dirty = True

    def drained(self, created: bool) -> None:
        """Count a spooled capture uploaded by the drainer."""
        with self._lock:
            self._inc("drained", "created" if created else "duplicate")
            self._dirty = True

    def _observe(self, seconds: float) -> None:
        for index, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self._data["latency_buckets"][index] += 1
                break
        self._data["latency_count"] += 1
        self._data["latency_sum"] += seconds
        self._dirty = True

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write this process's counters for the other workers' /metrics."""
        if self._directory is None:
            return
        with self._lock:
            if not self._dirty and self._flushed_at:
                return
            snapshot = json.dumps(self._data)
            self._dirty = False
            self._flushed_at = time.monotonic()
        if os.getpid() != self._pid:  # forked: start a file of our own
            self._pid = os.getpid()
        try:
            atomic_write(self._directory / f"{self._pid}.json", snapshot.encode("utf-8"))
        except OSError:
            pass

    def totals(self) -> dict[str, Any]:
        """Every process's counters added up."""
        self.flush()
        with self._lock:
            own = copy.deepcopy(self._data)
        if self._directory is None:
            return own
        documents = [own]
        try:
            # Shared lock: a new worker folding exited workers' files into the archive
            # must not be seen half done (a counter going down reads as a reset).
            with open(self._directory / ".lock", "a+b") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_SH)
                for path in self._directory.glob("*.json"):
                    if path.name != f"{self._pid}.json":
                        documents.append(_read(path))
        except OSError:
            pass
        return _sum(documents)

    def render(self, gauges: Callable[[], dict[str, float]]) -> str:
        """The Prometheus text exposition of the totals plus ``gauges``."""
        registry = CollectorRegistry()
        registry.register(_TotalsCollector(self.totals(), gauges()))
        return generate_latest(registry).decode("utf-8")


class _TotalsCollector:
    """A ``prometheus_client`` collector over counters already summed across workers."""

    def __init__(self, total: dict[str, Any], gauges: dict[str, float]) -> None:
        self._total = total
        self._gauges = gauges

    def collect(self) -> Iterable[Metric]:
        """The ingest's metric families."""
        total = self._total
        uploads = CounterMetricFamily("camcloud_ingest_uploads", "Uploads accepted, by outcome.",
                                      labels=["outcome"])
        for outcome in sorted(set(total["uploads"]) | {"stored", "duplicate", "queued"}):
            uploads.add_metric([outcome], total["uploads"].get(outcome, 0))
        yield uploads
        rejects = CounterMetricFamily("camcloud_ingest_rejects", "Uploads refused, by error code.",
                                      labels=["reason"])
        for code, count in sorted(total["rejects"].items()):
            rejects.add_metric([code], count)
        yield rejects
        yield CounterMetricFamily("camcloud_ingest_bytes", "Image bytes accepted.",
                                  value=total["bytes"])
        yield CounterMetricFamily("camcloud_ingest_s3_errors",
                                  "Failed S3 writes on the upload path.", value=total["s3_errors"])
        drained = CounterMetricFamily("camcloud_ingest_spool_drained",
                                      "Spooled captures uploaded later.", labels=["result"])
        for kind in ("created", "duplicate"):
            drained.add_metric([kind], total["drained"].get(kind, 0))
        yield drained
        yield self._latency()
        for name, value in self._gauges.items():
            yield GaugeMetricFamily(f"camcloud_ingest_{name}", GAUGE_HELP.get(name, name),
                                    value=value)

    def _latency(self) -> HistogramMetricFamily:
        total = self._total
        buckets: list[tuple[str, float]] = []
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS, total["latency_buckets"], strict=True):
            cumulative += count
            buckets.append((str(bound), cumulative))
        buckets.append(("+Inf", total["latency_count"]))
        return HistogramMetricFamily("camcloud_ingest_request_seconds", "Upload request latency.",
                                     buckets=buckets, sum_value=total["latency_sum"])
