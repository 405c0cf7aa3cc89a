#!/usr/bin/env bash
# Installs the release `make deploy` uploaded, when it differs from the installed one, without
# ever leaving the host worse than it was:
#   1. fetch the tarball whose ETag was read, from this account's bucket only;
#   2. unpack it into its own directory /opt/camcloud/releases/ID and build its virtualenv
#      from requirements.lock with --require-hashes (the versions the tests ran with);
#   3. render the nginx site and `nginx -t` it before it replaces the running one;
#   4. switch /opt/camcloud/current atomically, restart, and wait for /readyz;
#   5. on failure switch back to the previous release, count the failure (the UpdateFailed
#      alarm fires) and retry that release only after a growing pause (5 min .. 6 h).
# The first boot runs it with --first-boot: it then signals CloudFormation, SUCCESS after
# /readyz or FAILURE, so a host that cannot serve never takes the Elastic IP.
# camcloud-update.timer runs it every five minutes; between releases a run only renews the
# certificate and drains data volumes left by replaced hosts.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

first_boot=false
force=false
for argument in "$@"; do
  case "$argument" in
    --first-boot) first_boot=true ;;
    --force) force=true ;;
    *) echo "usage: camcloud-update [--first-boot] [--force]" >&2; exit 2 ;;
  esac
done

# shellcheck source=/dev/null
. /etc/camcloud/stack.env
hostctl() { python3 /usr/local/lib/camcloud/hostctl.py "$@"; }
root=/opt/camcloud
state=/var/lib/camcloud-release
install -d -m 0755 "$root" "$root/releases" "$state"

# One run at a time: the timer and the first boot may meet.
exec 9>/run/camcloud-update.lock
flock 9

log() { echo "camcloud-update: $*"; }

signal() { # signal SUCCESS|FAILURE: only the first boot answers CloudFormation
  if $first_boot; then
    hostctl signal "$1" || log "could not signal $1 to CloudFormation"
  fi
}

give_up() { # give_up ETAG MESSAGE: count the failure, raise the alarm, keep what runs
  local etag=$1 failures=1
  shift
  log "FAILED: $*" >&2
  if [ "$(cut -d' ' -f1 "$state/failed" 2>/dev/null)" = "$etag" ]; then
    failures=$(($(cut -d' ' -f2 "$state/failed") + 1))
  fi
  echo "$etag $failures $(date +%s)" >"$state/failed"
  hostctl metric UpdateFailed 1 || log "could not publish the UpdateFailed metric"
  signal FAILURE
  exit 1
}

wait_ready() { # wait_ready SECONDS: the ingest's /readyz (S3 reachable) and the gallery's login page
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    if curl -fs -o /dev/null --max-time 5 http://127.0.0.1:8001/readyz &&
      curl -fs -o /dev/null --max-time 5 http://127.0.0.1:8002/login; then
      return 0
    fi
    sleep 2
  done
  curl -sS --max-time 5 http://127.0.0.1:8001/readyz || true
  systemctl --no-pager --lines=15 status camcloud-ingest.service camcloud-gallery.service || true
  return 1
}

switch_to() { # switch_to DIR: point current at DIR in one rename, restart the services
  ln -sfn "$1" "$root/current.new"
  mv -T "$root/current.new" "$root/current"
  systemctl daemon-reload
  systemctl restart camcloud-credentials.service
  systemctl restart camcloud-ingest.service camcloud-gallery.service
}

# --- between releases: the chores of every run
maintenance() {
  /usr/local/sbin/camcloud-rescue || log "a spare data volume could not be drained yet"
  if [ -L "$root/current" ]; then
    /usr/local/sbin/camcloud-proxy --renew || log "certificate renewal failed"
  fi
}

etag=$(hostctl release-etag) || { log "no release in s3://$CAMCLOUD_BUCKET yet" >&2; exit 1; }
installed=$(cat "$state/installed" 2>/dev/null || true)
if [ "$etag" = "$installed" ] && ! $force; then
  maintenance
  exit 0
fi
# Back off from a release that failed: 5 min, then 10, 20, ... at most 6 h between attempts.
if [ -f "$state/failed" ] && ! $force && ! $first_boot; then
  read -r failed_etag failures failed_at <"$state/failed"
  if [ "$failed_etag" = "$etag" ]; then
    pause=$((300 * (1 << (failures > 7 ? 7 : failures - 1))))
    [ $pause -le 21600 ] || pause=21600
    if [ "$(date +%s)" -lt $((failed_at + pause)) ]; then
      log "release $etag failed $failures time(s); next attempt after $pause s"
      maintenance
      exit 0
    fi
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hostctl fetch-release "$etag" "$work/release.tar.gz" || give_up "$etag" "download failed"
tar -xzf "$work/release.tar.gz" -C "$work" || give_up "$etag" "unpack failed"
id="$(date -u +%Y%m%dT%H%M%SZ)-${etag:0:12}"
new="$root/releases/$id"
log "installing $(cat "$work/release/VERSION") as $id"

# The system part: packages, users, directories, units, the data volume. Idempotent, and
# it leaves the running release alone.
bash "$work/release/deploy/bootstrap.sh" "$work/release" || give_up "$etag" "bootstrap failed"

mv "$work/release" "$new"
python3 -m venv "$new/venv"
"$new/venv/bin/pip" install -q --no-input --disable-pip-version-check --require-hashes \
  --only-binary=:all: -r "$new/requirements.lock" || give_up "$etag" "locked dependencies failed"
"$new/venv/bin/pip" install -q --no-input --disable-pip-version-check --no-deps --no-index \
  "$new"/camcloud-*.whl || give_up "$etag" "camcloud wheel failed"

# State that outlives the host: the gallery's key, the owner's settings, the certificate.
hostctl secret /etc/camcloud/secret.env --group camcloud-gallery || give_up "$etag" "secret"
hostctl settings /etc/camcloud/local.env --group camcloud || give_up "$etag" "settings"

previous=$(readlink "$root/current" || true)
# The site for the new release, checked by nginx before it replaces the running one.
/usr/local/sbin/camcloud-proxy --release "$new" || give_up "$etag" "nginx site rejected"
switch_to "$new"
if wait_ready 120; then
  echo "$etag" >"$state/installed"
  rm -f "$state/failed"
  hostctl metric UpdateFailed 0 || true
  # Keep the running release and the two before it (a rollback needs no download).
  find "$root/releases" -mindepth 1 -maxdepth 1 -type d | sort | head -n -3 |
    while read -r old; do [ "$old" = "$new" ] || rm -rf "$old"; done
  log "installed $(cat "$new/VERSION")"
  signal SUCCESS
  exit 0
fi

if [ -n "$previous" ] && [ -d "$previous" ]; then
  log "release $id is not ready: rolling back to $(basename "$previous")" >&2
  /usr/local/sbin/camcloud-proxy --release "$previous" || true
  switch_to "$previous"
  wait_ready 120 || log "the previous release is not ready either" >&2
fi
give_up "$etag" "release $id failed /readyz after the switch"
