#!/usr/bin/env bash
# Installs the camcloud release `make deploy` uploaded, when it differs from the installed one.
# The first boot runs it until a release exists; camcloud-update.timer runs it every few
# minutes after that, so `make deploy` is all an update takes. Nothing changes when nothing is
# new, except that a missing HTTPS certificate is tried again (DNS may have caught up).
set -euo pipefail
export PATH="/snap/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# shellcheck source=/dev/null
. /etc/camcloud/stack.env
export AWS_DEFAULT_REGION="$CAMCLOUD_REGION"
release_key=releases/camcloud-release.tar.gz
state=/var/lib/camcloud-release
install -d -m 0755 "$state"

# One run at a time: the timer and the first boot may meet.
exec 9>/run/camcloud-update.lock
flock 9

etag=$(aws s3api head-object --bucket "$CAMCLOUD_BUCKET" --key "$release_key" \
  --query ETag --output text)
installed=$(cat "$state/installed.etag" 2>/dev/null || true)
if [ "$etag" = "$installed" ] && [ "${1:-}" != "--force" ]; then
  if [ -n "${CAMCLOUD_DOMAIN:-}" ] && [ ! -e "/etc/letsencrypt/live/$CAMCLOUD_DOMAIN" ]; then
    /usr/local/sbin/camcloud-proxy
  fi
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --if-match: never unpack a tarball other than the one whose ETag was just read.
aws s3api get-object --bucket "$CAMCLOUD_BUCKET" --key "$release_key" --if-match "$etag" \
  "$work/release.tar.gz" >/dev/null
tar -xzf "$work/release.tar.gz" -C "$work"
bash "$work/release/deploy/bootstrap.sh" "$work/release"
echo "$etag" >"$state/installed.etag"
echo "camcloud-update: installed $(cat "$work/release/VERSION")"
