"""The local stack's event worker: SQS long poll -> the same handler Lambda runs.

A message is deleted only after the handler succeeded; on failure it becomes visible again
after the queue's visibility timeout, and the queue's redrive policy moves it to the
dead-letter queue after ``maxReceiveCount`` tries, as Lambda's own retries would.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("camcloud.worker")


class EventWorker:
    """Polls ``queue_url`` and feeds each S3 event to ``handler`` until stopped."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        wait_seconds: int = 1,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed = 0

    def start(self) -> None:
        """Start polling in a background thread."""
        self._thread = threading.Thread(target=self._run, name="camcloud-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling and wait for the current batch to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def poll_once(self) -> int:
        """Receive one batch and handle it; returns how many messages were handled."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait_seconds,
        )
        done = 0
        for message in response.get("Messages", []):
            if self._handle(message):
                self._sqs.delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                done += 1
        return done

    def _handle(self, message: dict[str, Any]) -> bool:
        try:
            event = json.loads(message["Body"])
        except (KeyError, ValueError):
            log.error("dropping a message that is not JSON: %.200s", message.get("Body"))
            return True
        if not isinstance(event, dict) or event.get("Event") == "s3:TestEvent":
            return True
        try:
            self._handler(event, None)
        except Exception:
            # Left on the queue: retried after the visibility timeout, then dead-lettered.
            self.failed += 1
            log.exception("thumbnailer failed; the event will be retried")
            return False
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("polling the event queue failed")
                self._stop.wait(1.0)
