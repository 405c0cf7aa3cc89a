#!/usr/bin/env bash
# Drains the data volumes that replaced hosts left behind (their spools: uploads answered
# 202 that never reached S3), then deletes each volume. A volume that cannot be drained yet
# (S3 still failing) is detached and kept for the next run. Run by every camcloud-update.
set -euo pipefail
# shellcheck source=/dev/null
. /etc/camcloud/stack.env
hostctl() { python3 /usr/local/lib/camcloud/hostctl.py "$@"; }
[ -L /opt/camcloud/current ] || exit 0

for volume in $(hostctl spare-volumes); do
  echo "camcloud-rescue: draining the spool on $volume"
  hostctl volume attach "$volume"
  disk="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volume//-/}"
  for _ in $(seq 30); do [ -e "$disk" ] && break; sleep 1; done
  mount_point="/var/lib/camcloud-rescue/$volume"
  install -d "$mount_point"
  drained=false
  if mount "$disk" "$mount_point"; then
    if [ ! -d "$mount_point/spool" ]; then
      drained=true
    else
      # Files of another host's ingest user (ids can differ): hand them to this one.
      chown -R camcloud-ingest:camcloud-ingest "$mount_point/spool"
      if systemd-run --quiet --wait --pipe --uid=camcloud-ingest --gid=camcloud-ingest \
        -p EnvironmentFile=/etc/camcloud/camcloud.env -p EnvironmentFile=-/etc/camcloud/local.env \
        -p Environment=AWS_PROFILE=camcloud-ingest \
        -p Environment=CAMCLOUD_SPOOL_DIR="$mount_point/spool" \
        /opt/camcloud/current/venv/bin/python -m ingest.drain --timeout 600; then
        drained=true
      fi
    fi
    umount "$mount_point"
  fi
  rmdir "$mount_point" || true
  hostctl volume detach "$volume"
  if $drained; then
    hostctl volume delete "$volume"
    echo "camcloud-rescue: $volume drained and deleted"
  else
    echo "camcloud-rescue: $volume still holds uploads; kept for the next run" >&2
  fi
done
