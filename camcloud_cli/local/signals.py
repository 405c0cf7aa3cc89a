"""Running the local stack in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from typing import Protocol


class Stack(Protocol):
    """What ``run_forever`` needs of a stack."""

    def start(self) -> None:
        """Start every part."""

    def stop(self) -> None:
        """Stop every part."""

    def banner(self) -> str:
        """What to print once it runs."""


def run_forever(stack: Stack) -> None:
    """Run ``stack`` until Ctrl-C or SIGTERM, then stop every part."""
    stopping = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        print(stack.banner(), flush=True)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C while stopping must not leave a half-stopped stack behind.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("\nstopping camcloud local stack…", flush=True)
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
