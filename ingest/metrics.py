"""Ingest metrics in Prometheus text format, summed over every gunicorn worker.

Each worker process counts in memory and writes its counters to ``{dir}/{pid}.json`` at most
once a second; ``/metrics`` adds up every file, so the figures do not depend on which worker
answers the scrape, and they stay monotonic when a worker is recycled: a new worker folds the
files of workers that have exited into ``archive.json``, so the directory does not grow.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
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
                temporary = self._directory / ".archive.json.tmp"
                temporary.write_text(json.dumps(_sum(documents)), encoding="utf-8")
                os.replace(temporary, archive_path)
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
        target = self._directory / f"{self._pid}.json"
        temporary = self._directory / f".{self._pid}.json.tmp"
        try:
            temporary.write_text(snapshot, encoding="utf-8")
            os.replace(temporary, target)
        except OSError:
            pass

    def totals(self) -> dict[str, Any]:
        """Every process's counters added up."""
        self.flush()
        with self._lock:
            own = json.loads(json.dumps(self._data))
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
        total = self.totals()
        lines = [
            "# HELP camcloud_ingest_uploads_total Uploads accepted, by outcome.",
            "# TYPE camcloud_ingest_uploads_total counter",
        ]
        for outcome in sorted(set(total["uploads"]) | {"stored", "duplicate", "queued"}):
            lines.append(
                f'camcloud_ingest_uploads_total{{outcome="{outcome}"}} '
                f"{total['uploads'].get(outcome, 0)}"
            )
        lines += [
            "# HELP camcloud_ingest_rejects_total Uploads refused, by error code.",
            "# TYPE camcloud_ingest_rejects_total counter",
        ]
        for code, count in sorted(total["rejects"].items()):
            lines.append(f'camcloud_ingest_rejects_total{{reason="{code}"}} {count}')
        lines += [
            "# HELP camcloud_ingest_bytes_total Image bytes accepted.",
            "# TYPE camcloud_ingest_bytes_total counter",
            f"camcloud_ingest_bytes_total {total['bytes']}",
            "# HELP camcloud_ingest_s3_errors_total Failed S3 writes on the upload path.",
            "# TYPE camcloud_ingest_s3_errors_total counter",
            f"camcloud_ingest_s3_errors_total {total['s3_errors']}",
            "# HELP camcloud_ingest_spool_drained_total Spooled captures uploaded later.",
            "# TYPE camcloud_ingest_spool_drained_total counter",
        ]
        for kind in ("created", "duplicate"):
            lines.append(
                f'camcloud_ingest_spool_drained_total{{result="{kind}"}} '
                f"{total['drained'].get(kind, 0)}"
            )
        lines += [
            "# HELP camcloud_ingest_request_seconds Upload request latency.",
            "# TYPE camcloud_ingest_request_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS, total["latency_buckets"], strict=True):
            cumulative += count
            lines.append(f'camcloud_ingest_request_seconds_bucket{{le="{bound}"}} {cumulative}')
        lines.append(
            f'camcloud_ingest_request_seconds_bucket{{le="+Inf"}} {total["latency_count"]}'
        )
        lines.append(f"camcloud_ingest_request_seconds_sum {total['latency_sum']:.6f}")
        lines.append(f"camcloud_ingest_request_seconds_count {total['latency_count']}")
        for name, value in gauges().items():
            lines.append(f"# TYPE camcloud_ingest_{name} gauge")
            lines.append(f"camcloud_ingest_{name} {value:g}")
        return "\n".join(lines) + "\n"
