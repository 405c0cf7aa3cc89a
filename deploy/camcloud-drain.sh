#!/bin/sh
# ExecStopPost of camcloud-ingest.service: when the host is going away (shutdown, or the
# Auto Scaling group's termination hook), send the spool to S3 before the process is gone,
# for at most CAMCLOUD_DRAIN_TIMEOUT seconds; what remains stays on the data volume, which
# outlives the host. A plain restart (an update) keeps the spool on disk for the next process.
if [ "$(systemctl is-system-running 2>/dev/null)" != stopping ] && [ ! -e /run/camcloud-terminating ]; then
  exit 0
fi
exec /opt/camcloud/current/venv/bin/python -m ingest.drain --timeout "${CAMCLOUD_DRAIN_TIMEOUT:-120}"
