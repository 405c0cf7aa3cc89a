"""The local stack's schedules: the daily time-lapse and the 5-minute alert check.

The same service calls the AWS schedules make (``camcloud.timelapse`` and ``camcloud.alerts``),
on threads of the stack's process. A pass that fails is logged and tried again at the next
tick: a schedule never takes the stack down.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from camcloud.files import atomic_write

log = logging.getLogger("camcloud.local.timers")

DAILY_TICK_S = 60.0
ALERTS_TICK_S = 300.0


class Periodic:
    """Calls ``tick`` after ``first_delay`` seconds and then every ``period`` seconds on a
    daemon thread, until :meth:`stop`; an exception in a tick is logged, never raised."""

    def __init__(self, name: str, tick: Callable[[], object], period: float, *,
                 first_delay: float = 0.0) -> None:
        self.name = name
        self._tick = tick
        self._period = period
        self._first_delay = first_delay
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.runs = 0

    def run_once(self) -> None:
        """One tick, its failure logged (the stack keeps running)."""
        try:
            self._tick()
        except Exception:
            self.failures += 1
            log.exception("%s: the pass failed; trying again in %.0f s", self.name, self._period)
        finally:
            self.runs += 1

    def _loop(self) -> None:
        if self._stopping.wait(self._first_delay):
            return
        while not self._stopping.is_set():
            self.run_once()
            self._stopping.wait(self._period)

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name=f"camcloud-{self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the tick in progress (if any)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


class DailyTimelapse:
    """Builds every camera's daily video once its day is due (``due_daily_runs``), remembering
    the last day built in ``state_path`` so a restart neither repeats nor skips a day."""

    def __init__(self, client: Any, bucket: str, tz: str, state_path: Path, *,
                 clock: Callable[[], datetime],
                 build: Callable[..., dict[str, Any]] | None = None) -> None:
        self._client = client
        self._bucket = bucket
        self._tz = tz
        self._state_path = state_path
        self._clock = clock
        self._build = build

    def last_run(self) -> date | None:
        """The last day built, or None (never, or the state file is unreadable)."""
        try:
            return date.fromisoformat(json.loads(self._state_path.read_text())["last_run"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def tick(self) -> list[date]:
        """Build the days that are due; return them (oldest first)."""
        from camcloud.timelapse import Options, build_day_for_all, due_daily_runs

        build = self._build or build_day_for_all
        built = []
        for day in due_daily_runs(self._clock(), self._tz, self.last_run()):
            outcomes = build(self._client, self._bucket, day, Options(tz=self._tz),
                             clock=self._clock)
            for device, outcome in sorted(outcomes.items()):
                said = getattr(outcome, "key", None) or getattr(outcome, "message", outcome)
                log.info("daily time-lapse %s %s: %s", device, day, said)
            # Only after the whole day: a failure mid-day builds that day again next tick.
            atomic_write(self._state_path,
                         (json.dumps({"last_run": day.isoformat()}) + "\n").encode())
            built.append(day)
        return built


class AlertsTimer:
    """One alert pass per tick, with the local dead-letter queue's depth."""

    def __init__(self, run_pass: Callable[..., Any], dlq_depth: Callable[[], int | None]) -> None:
        self._run_pass = run_pass
        self._dlq_depth = dlq_depth

    def tick(self) -> str:
        """Run one pass; return and log its summary."""
        summary = str(self._run_pass(dlq_depth=self._dlq_depth()).summary())
        log.info("alerts check: %s", summary)
        return summary


def queue_depth(sqs: Any, queue_url: str) -> int | None:
    """Messages waiting in ``queue_url`` (the dead-letter queue); None when unknown."""
    try:
        response = sqs.get_queue_attributes(QueueUrl=queue_url,
                                            AttributeNames=["ApproximateNumberOfMessages"])
        return int(response["Attributes"]["ApproximateNumberOfMessages"])
    except Exception as exc:  # any failure only means "unknown": the check leaves it as is
        log.warning("dead-letter queue depth unknown: %s", exc)
        return None
