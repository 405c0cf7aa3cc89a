"""``python -m ingest.drain --timeout SECONDS``: upload the spool to S3 before the host stops.

For the systemd unit's ExecStop and the instance's termination hook. Exit status 0 when the
spool is empty (nothing would be lost with the disk), 1 when entries remain after the time,
2 when the settings are invalid. While a gunicorn worker still holds the drain lock, this
waits for that worker to empty the spool instead of uploading the same entries twice.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from camcloud.settings import Settings, SettingsError
from ingest import logs
from ingest.wiring import build_services


def drain(settings: Settings, timeout: float, *, client: object = None,
          clock: Callable[[], float] = time.monotonic) -> int:
    """Drain the spool of ``settings`` for at most ``timeout`` seconds; the exit status."""
    services = build_services(settings, client)
    if not services.spool.available:
        return 1
    drainer = services.drainer
    # Short waits between attempts: the host is going away, a 15 s backoff would waste it.
    drainer.backoff_max = min(drainer.backoff_max, 2.0)
    empty = drainer.drain_within(timeout, clock)
    services.metrics.flush()
    entries, _ = services.spool.usage()
    logs.event("spool_drain_finished", empty=empty, entries=entries, timeout=timeout)
    return 0 if empty else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and drain."""
    parser = argparse.ArgumentParser(prog="python -m ingest.drain", description=__doc__)
    parser.add_argument("--timeout", type=float, required=True,
                        help="seconds to spend at most (exit 1 if entries remain then)")
    arguments = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"ingest.drain: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    return drain(settings, max(0.0, arguments.timeout))


if __name__ == "__main__":
    sys.exit(main())
