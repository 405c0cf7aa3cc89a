"""The spool's drainer: uploads what S3 could not take, with backoff, once S3 takes it again.

It holds ``drain.lock`` (flock) beside the spool so that with several gunicorn workers exactly
one of them uploads; when that worker exits, another takes the lock over. It runs as a thread
started by ``ingest.start_background`` (gunicorn's worker hook, the local stack), never by
building the app, and in one pass from ``python -m ingest.drain`` when the host shuts down.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Literal

from botocore.exceptions import BotoCoreError, ClientError

from ingest.logs import event
from ingest.spool import CorruptEntry, Spool
from ingest.store import Capture, CaptureStore

Pass = Literal["empty", "drained", "failed"]
LOCK_FILE = "drain.lock"


class Drainer:
    """Uploads the spool to S3 with backoff; one drainer at a time across processes."""

    def __init__(
        self,
        spool: Spool,
        store: CaptureStore,
        *,
        on_drained: Callable[[Capture, bool], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        on_s3: Callable[[bool], None] | None = None,
        idle_poll: float = 2.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 15.0,
    ) -> None:
        self.spool = spool
        self.store = store
        self.on_drained = on_drained
        self.on_tick = on_tick
        self.on_s3 = on_s3
        self.idle_poll = idle_poll
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.lock_path = Path(spool.root) / LOCK_FILE
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_handle: IO[bytes] | None = None
        self.holds_lock = False

    def start(self) -> None:
        """Start the background thread (a daemon: it never holds up process exit)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="camcloud-spool-drainer",
                                        daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """Look at the queue now (a capture was just spooled)."""
        self._kick.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and release the drain lock."""
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._release()

    def try_lock(self) -> bool:
        """Take the drain lock unless another process holds it; True if this one holds it."""
        if self.holds_lock:
            return True
        handle = open(self.lock_path, "a+b")  # noqa: SIM115 - held while draining
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_handle = handle
        self.holds_lock = True
        event("drainer_started", pid=os.getpid())
        self.spool.clean_tmp()
        return True

    def _release(self) -> None:
        if self._lock_handle is not None:
            try:
                fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_UN)
            finally:
                self._lock_handle.close()
                self._lock_handle = None
                self.holds_lock = False

    def _idle(self, seconds: float) -> None:
        self._kick.wait(seconds)
        self._kick.clear()

    def _tick(self) -> None:
        if self.on_tick is None:
            return
        try:
            self.on_tick()
        except Exception:  # noqa: BLE001 - metrics must never stop draining
            event("metrics_flush_failed", logging.ERROR, exc_info=True)

    def _attempt(self) -> Pass | None:
        """One pass if this process may drain; None when it may not (no spool, no lock)."""
        try:
            if not self.spool.available or not self.try_lock():
                return None
            return self.drain_once()
        except Exception:  # noqa: BLE001 - the drainer must outlive any one bad entry
            event("spool_drain_failed", logging.ERROR, exc_info=True)
            return "failed"

    def _run(self) -> None:
        delay = self.backoff_initial
        while not self._stop.is_set():
            self._tick()
            outcome = self._attempt()
            if outcome == "failed":
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_initial
            if outcome != "drained":
                self._idle(self.idle_poll)

    def drain_within(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> bool:
        """Drain in this thread for at most ``seconds``; True when the queue is empty.

        For a host shutting down (``python -m ingest.drain``): while another process holds
        the drain lock, this one waits for it to finish rather than uploading twice.
        """
        deadline = clock() + seconds
        delay = self.backoff_initial
        try:
            while True:
                outcome = self._attempt()
                if outcome == "empty" or not self.spool.names():
                    return True
                remaining = deadline - clock()
                if remaining <= 0:
                    return False
                if outcome != "drained":
                    self._stop.wait(min(delay, remaining))
                    delay = min(delay * 2, self.backoff_max)
        finally:
            self._release()

    def drain_once(self) -> Pass:
        """Upload what is queued: ``empty``, ``drained`` or ``failed`` (S3 still refuses)."""
        names = self.spool.names()
        if not names:
            return "empty"
        for name in names:
            if self._stop.is_set():
                break
            if not self._drain_entry(name):
                return "failed"
        return "drained"

    def _drain_entry(self, name: str) -> bool:
        """Upload one entry; False if S3 refused it (it stays queued)."""
        try:
            capture = self.spool.load(name)
        except FileNotFoundError:
            return True
        except CorruptEntry as exc:
            event("spool_corrupt", logging.ERROR, entry=name, error=str(exc))
            self.spool.quarantine(name)
            return True
        try:
            result = self.store.store(capture)
        except (BotoCoreError, ClientError) as exc:
            self._report_s3(False)
            event("spool_drain_retry", logging.WARNING, entry=name, error=str(exc)[:200])
            return False
        self._report_s3(True)
        self.spool.remove(name)
        if self.on_drained is not None:
            self.on_drained(capture, result.created)
        event("spool_drained", device=capture.device, capture_id=capture.capture_id,
              key=result.ref.raw_key, bytes=capture.size, duplicate=not result.created)
        return True

    def _report_s3(self, ok: bool) -> None:
        if self.on_s3 is not None:
            self.on_s3(ok)
