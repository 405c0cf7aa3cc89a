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

# A changed stack parameter arrives as new user data (see stack-env.sh): reinstall with it.
if [ -x /usr/local/lib/camcloud/stack-env.sh ]; then
  token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" \
    http://169.254.169.254/latest/api/token || true)
  if [ -n "$token" ] && curl -sf -H "X-aws-ec2-metadata-token: $token" \
    http://169.254.169.254/latest/user-data | /usr/local/lib/camcloud/stack-env.sh \
    >/etc/camcloud/stack.env.new && ! cmp -s /etc/camcloud/stack.env.new /etc/camcloud/stack.env; then
    mv -f /etc/camcloud/stack.env.new /etc/camcloud/stack.env
    # shellcheck source=/dev/null
    . /etc/camcloud/stack.env
  fi
  rm -f /etc/camcloud/stack.env.new
fi

etag=$(aws s3api head-object --bucket "$CAMCLOUD_BUCKET" --key "$release_key" \
  --query ETag --output text)
# What is installed: this release with these stack facts.
wanted="$etag $(sha256sum /etc/camcloud/stack.env | cut -d' ' -f1)"
installed=$(cat "$state/installed" 2>/dev/null || true)
if [ "$wanted" = "$installed" ] && [ "${1:-}" != "--force" ]; then
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
echo "$wanted" >"$state/installed"
echo "camcloud-update: installed $(cat "$work/release/VERSION")"
