"""gunicorn settings for the ingest and the gallery on the EC2 host (each unit passes --bind).

Tuned for a 1 vCPU / 1 GiB instance with bench/ingest.py; every value can be overridden with
the environment variable named next to it, without editing this file.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Threads carry the concurrency: a request mostly waits on S3 (the GIL is released then),
# and each process holds its own boto3 client (~40 MB RSS in all), so a handful of processes
# fit in 1 GiB. Two processes even on 1 vCPU: one can run while the other is in a GC pause or
# a long JPEG check, and when one is recycled the other keeps serving.
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count()))
threads = _int("GUNICORN_THREADS", 8)
# Open connections per process (keep-alive ones included); requests beyond workers x threads
# wait in the kernel's socket buffers, not in memory: a body is read only by a free thread, and
# one above 1 MiB goes to a file next to the spool, so memory stays bounded by
# workers x threads x ~1 MiB whatever the number of cameras.
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 256)
backlog = _int("GUNICORN_BACKLOG", 512)

# nginx buffers every request body, so a worker sees complete requests; 30 s covers an S3
# stall (the ingest gives S3 at most ~5 s before spooling) with room to spare.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 25)
# Longer than nginx's upstream keepalive, so nginx never reuses a connection gunicorn closes.
keepalive = _int("GUNICORN_KEEPALIVE", 75)

# Recycle workers now and then so memory stays bounded over months of uptime; the spool
# drainer moves to another worker through its file lock.
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 2000)

# Each worker creates its S3 client and metrics file after the fork; its spool drainer
# thread starts in post_worker_init (below).
preload_app = False
# The heartbeat file on tmpfs: a slow disk (the spool writing during an outage) must not
# make the master think a worker hung.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# No runtime control socket (gunicorn >= 25.1 creates one in $XDG_RUNTIME_DIR or ~/.gunicorn):
# the ingest and the gallery would share its path, the service user has no writable home
# under ProtectHome, and systemd already restarts and reloads the units.
control_socket_disable = True

# nginx writes the access log; the ingest writes one JSON line per upload with device,
# capture id, bytes, outcome and latency. gunicorn's own log goes to journald via stderr.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("CAMCLOUD_LOG_LEVEL", "INFO").lower()
# Trust X-Forwarded-* from the local nginx only.
forwarded_allow_ips = "127.0.0.1,::1"


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """In each ingest worker, after the fork: start the spool drainer (create_app starts none)."""
    if "camcloud.ingest" in getattr(worker.wsgi, "extensions", {}):
        from ingest import start_background

        worker.camcloud_stop = start_background(worker.wsgi)


def worker_exit(server, worker):  # type: ignore[no-untyped-def]
    """Stop the drainer and release its lock, so another worker takes the spool over at once."""
    stop = getattr(worker, "camcloud_stop", None)
    if stop is not None:
        stop()
