#!/usr/bin/env bash
# Installs or updates camcloud on the Ubuntu ingest host from an unpacked release (argument):
# packages, the app's virtualenv, settings, the two services, the updater, and nginx (with a
# Let's Encrypt certificate when the stack has a domain). Idempotent: first boot and every
# update run it; after a reboot the enabled units start everything without it.
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
missing=()
for package in nginx certbot python3-venv; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- the service user and its durable state (the spool survives reboots and updates)
id -u camcloud >/dev/null 2>&1 ||
  useradd --system --home-dir /var/lib/camcloud --shell /usr/sbin/nologin camcloud
install -d -m 0750 -o camcloud -g camcloud /var/lib/camcloud /var/lib/camcloud/spool
install -d -m 0755 /opt/camcloud /var/www/camcloud-acme
install -d -m 0750 -g camcloud /etc/camcloud

# --- the application, from the release's wheel
[ -x /opt/camcloud/venv/bin/python ] || python3 -m venv /opt/camcloud/venv
wheels=("$release"/camcloud-*.whl)
/opt/camcloud/venv/bin/pip install -q --upgrade pip
/opt/camcloud/venv/bin/pip install -q "${wheels[0]}"
# Same version number, new build: replace camcloud itself, keep the resolved dependencies.
/opt/camcloud/venv/bin/pip install -q --force-reinstall --no-deps "${wheels[0]}"
install -m 0644 "$deploy/gunicorn.conf.py" /opt/camcloud/gunicorn.conf.py

# --- settings: camcloud.env is rewritten from the stack; local.env is the owner's, kept
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
AWS_CONFIG_FILE=/etc/camcloud/aws-config
AWS_STS_REGIONAL_ENDPOINTS=regional
ENV
[ -e /etc/camcloud/local.env ] || write /etc/camcloud/local.env 0640 <<'ENV'
# Your own CAMCLOUD_* settings (rate limits, presign TTL, ...); updates never touch this file.
ENV
# The gallery's session key: made on this host once, never in the repository or the template.
[ -s /etc/camcloud/secret.env ] ||
  write /etc/camcloud/secret.env 0640 <<<"CAMCLOUD_SECRET_KEY=$(openssl rand -hex 32)"
# Each service assumes its own role with the instance's credentials (least privilege per part).
write /etc/camcloud/aws-config 0640 <<CONFIG
[profile camcloud-ingest]
role_arn = $CAMCLOUD_INGEST_ROLE_ARN
credential_source = Ec2InstanceMetadata
role_session_name = camcloud-ingest
region = $CAMCLOUD_REGION

[profile camcloud-gallery]
role_arn = $CAMCLOUD_GALLERY_ROLE_ARN
credential_source = Ec2InstanceMetadata
role_session_name = camcloud-gallery
region = $CAMCLOUD_REGION
CONFIG

# --- units, the updater and the proxy helper
install -m 0644 "$deploy"/systemd/*.service "$deploy"/systemd/*.timer /etc/systemd/system/
install -m 0755 "$deploy/camcloud-update.sh" /usr/local/sbin/camcloud-update.new
mv -f /usr/local/sbin/camcloud-update.new /usr/local/sbin/camcloud-update # never rewrite a running script in place
install -d -m 0755 /usr/local/lib/camcloud
install -m 0755 "$deploy/render-proxy.sh" "$deploy/stack-env.sh" /usr/local/lib/camcloud/
install -m 0755 "$deploy/camcloud-proxy.sh" /usr/local/sbin/camcloud-proxy
systemctl daemon-reload
systemctl enable camcloud-ingest.service camcloud-gallery.service camcloud-update.timer nginx.service
systemctl restart camcloud-ingest.service camcloud-gallery.service
systemctl start camcloud-update.timer

/usr/local/sbin/camcloud-proxy
echo "bootstrap: camcloud $(cat "$release/VERSION") installed"
