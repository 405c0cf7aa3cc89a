#!/usr/bin/env bash
# The system part of a camcloud release on the host (argument: the unpacked release):
# packages, one unix user per service, the data volume, directories, settings, the AWS
# profiles, units and helpers. camcloud-update runs it before building the release's
# virtualenv; it is idempotent and never touches the running release or restarts a service.
set -euo pipefail
release=$(cd "${1:?usage: bootstrap.sh RELEASE_DIR}" && pwd)
deploy="$release/deploy"

# shellcheck source=/dev/null
. /etc/camcloud/stack.env
: "${CAMCLOUD_BUCKET:?}" "${CAMCLOUD_REGION:?}"
: "${CAMCLOUD_INGEST_ROLE_ARN:?}" "${CAMCLOUD_GALLERY_ROLE_ARN:?}"
max_mb=${CAMCLOUD_MAX_UPLOAD_MB:-8}

# --- packages (unattended-upgrades, on by default on Ubuntu, keeps them patched)
export DEBIAN_FRONTEND=noninteractive
packages=(nginx python3-venv python3-boto3 openssl curl ca-certificates)
[ -z "${CAMCLOUD_DOMAIN:-}" ] || packages+=(certbot)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- one unix user per service; the group camcloud may read the shared settings
getent group camcloud >/dev/null || groupadd --system camcloud
for user in camcloud-ingest camcloud-gallery; do
  id -u "$user" >/dev/null 2>&1 ||
    useradd --system --user-group --groups camcloud --home-dir /nonexistent \
      --no-create-home --shell /usr/sbin/nologin "$user"
done

# --- the data volume (the launch template's /dev/sdf, an NVMe disk on Nitro): the spool
# lives there, so it survives the host. Formatted once, mounted by label.
if ! mountpoint -q /var/lib/camcloud; then
  data=""
  for disk in /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol*; do
    [ -e "$disk" ] || continue
    case "$disk" in *-part*) continue ;; esac
    device=$(readlink -f "$disk")
    # Not the root disk (it has partitions) and not mounted anywhere.
    if [ -z "$(lsblk -nro NAME "$device" | tail -n +2)" ] && ! findmnt -S "$device" >/dev/null; then
      data=$device
    fi
  done
  if [ -n "$data" ]; then
    blkid "$data" >/dev/null || mkfs.ext4 -q -L camcloud-data "$data"
    install -d /var/lib/camcloud
    grep -q "LABEL=camcloud-data" /etc/fstab ||
      echo "LABEL=camcloud-data /var/lib/camcloud ext4 defaults,nofail,x-systemd.device-timeout=30s 0 2" >>/etc/fstab
    mount /var/lib/camcloud
    echo "bootstrap: data volume $data mounted on /var/lib/camcloud"
  else
    echo "bootstrap: no data volume found; the spool stays on the root disk"
  fi
fi
install -d -m 0755 /var/lib/camcloud
install -d -m 0750 -o camcloud-ingest -g camcloud-ingest /var/lib/camcloud/spool
install -d -m 0755 /opt/camcloud /var/www/camcloud-acme
install -d -m 0750 -g camcloud /etc/camcloud

# --- settings: camcloud.env is rewritten from the stack; local.env and secret.env come from
# Parameter Store (camcloud-update), so a replacement host has the same ones.
write() { # write PATH MODE: stdin to PATH, atomically, root:camcloud
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  chown root:camcloud "$tmp"
  chmod "$2" "$tmp"
  mv -f "$tmp" "$1"
}
write /etc/camcloud/camcloud.env 0640 <<ENV
CAMCLOUD_BUCKET=$CAMCLOUD_BUCKET
CAMCLOUD_REGION=$CAMCLOUD_REGION
CAMCLOUD_MAX_UPLOAD_BYTES=$((max_mb * 1024 * 1024))
CAMCLOUD_SPOOL_DIR=/var/lib/camcloud/spool
CAMCLOUD_LOG_LEVEL=INFO
CAMCLOUD_ALLOW_HTTP_LOGIN=${CAMCLOUD_ALLOW_HTTP_LOGIN:-false}
CAMCLOUD_UNDELETE_DAYS=${CAMCLOUD_UNDELETE_DAYS:-30}
CAMCLOUD_GALLERY_TIMEZONE=${CAMCLOUD_GALLERY_TIMEZONE:-UTC}
CAMCLOUD_TIMELAPSE_FUNCTION=${CAMCLOUD_TIMELAPSE_FUNCTION:-}
CAMCLOUD_ALERTS_KEY_PARAMETER=/camcloud/$CAMCLOUD_STACK/alerts-key
AWS_CONFIG_FILE=/etc/camcloud/aws-config
AWS_SHARED_CREDENTIALS_FILE=/dev/null
ENV
# Each service's only credentials: its own role's, refreshed by camcloud-credentials.timer
# into a file only its user can read (the services cannot reach the instance metadata).
write /etc/camcloud/aws-config 0640 <<CONFIG
[profile camcloud-ingest]
credential_process = /bin/cat /run/camcloud-credentials/camcloud-ingest.json
region = $CAMCLOUD_REGION

[profile camcloud-gallery]
credential_process = /bin/cat /run/camcloud-credentials/camcloud-gallery.json
region = $CAMCLOUD_REGION
CONFIG

# --- units and helpers (the units run whatever /opt/camcloud/current points at)
install -m 0644 "$deploy"/systemd/*.service "$deploy"/systemd/*.timer /etc/systemd/system/
install -d -m 0755 /usr/local/lib/camcloud
install -m 0644 "$deploy/hostctl.py" /usr/local/lib/camcloud/hostctl.py.new
mv -f /usr/local/lib/camcloud/hostctl.py.new /usr/local/lib/camcloud/hostctl.py
install -m 0755 "$deploy/camcloud-drain.sh" /usr/local/lib/camcloud/camcloud-drain
for tool in camcloud-update camcloud-proxy camcloud-rescue; do
  # Never rewrite a running script in place: install beside it, then rename.
  install -m 0755 "$deploy/$tool.sh" "/usr/local/sbin/$tool.new"
  mv -f "/usr/local/sbin/$tool.new" "/usr/local/sbin/$tool"
done
systemctl daemon-reload
systemctl enable camcloud-ingest.service camcloud-gallery.service camcloud-update.timer \
  camcloud-credentials.timer nginx.service
if [ -n "${CAMCLOUD_LIFECYCLE_HOOK:-}" ]; then
  systemctl enable --now camcloud-lifecycle.service
fi
systemctl start camcloud-update.timer camcloud-credentials.timer
echo "bootstrap: system part of camcloud $(cat "$release/VERSION") in place"
