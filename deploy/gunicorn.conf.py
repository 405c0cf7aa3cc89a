"""gunicorn settings for the ingest and the gallery on the EC2 host (each unit passes --bind).

First version from the deploy work; the ingest's owner tunes it against bench/ingest.py.
"""

import multiprocessing
import os

# Threads, not processes, carry the concurrency: a request mostly waits on S3, and every
# process holds its own boto3 (~40 MB), which a t4g.micro (1 GiB) cannot afford many times.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# nginx buffers every request body, so a worker only ever sees complete, fast requests.
timeout = 30
graceful_timeout = 25
keepalive = 75
# Recycle workers now and then so memory stays bounded over months of uptime.
max_requests = 20000
max_requests_jitter = 2000
# Logs go to journald through stdout/stderr.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("CAMCLOUD_LOG_LEVEL", "INFO").lower()
# Trust X-Forwarded-* from the local nginx only.
forwarded_allow_ips = "127.0.0.1,::1"
