#!/usr/bin/env bash
# Writes and loads camcloud's nginx site: HTTPS always. Without a domain (or until the
# domain's Let's Encrypt certificate exists) with a certificate from the stack's own
# authority (hostctl tls: kept in Parameter Store, pinned by the firmware); with a domain,
# Let's Encrypt's, kept in the bucket so a new host does not ask again. The new site is
# checked with `nginx -t` before it replaces the running one: a bad site never goes live.
#   camcloud-proxy --release DIR   the site of the release in DIR (camcloud-update)
#   camcloud-proxy --renew         renew the certificate if due, reload only when it changed
set -euo pipefail
# shellcheck source=/dev/null
. /etc/camcloud/stack.env
hostctl() { python3 /usr/local/lib/camcloud/hostctl.py "$@"; }
release=/opt/camcloud/current
renew=false
case "${1:-}" in
  --release) release=${2:?camcloud-proxy --release DIR} ;;
  --renew) renew=true ;;
  *) echo "usage: camcloud-proxy --release DIR | --renew" >&2; exit 2 ;;
esac
domain=${CAMCLOUD_DOMAIN:-}
site=/etc/nginx/sites-available/camcloud
own=/etc/camcloud/tls

before=$(sha256sum "$own/fullchain.pem" 2>/dev/null || true)
hostctl tls "$own" --ips "${CAMCLOUD_PUBLIC_IPS:-}"
cert_dir=$own
if [ -n "$domain" ]; then
  live="/etc/letsencrypt/live/$domain"
  if [ ! -e "$live/fullchain.pem" ] && hostctl state-get letsencrypt.tar.gz /run/camcloud-le.tgz; then
    tar -xzf /run/camcloud-le.tgz -C /
    rm -f /run/camcloud-le.tgz
  fi
  [ ! -e "$live/fullchain.pem" ] || cert_dir=$live
fi

load() { # load CERT_DIR: render, check with nginx -t, swap in, reload
  local candidate check
  candidate=$(mktemp "$site.XXXXXX")
  check=$(mktemp -d)
  CAMCLOUD_DOMAIN=$domain CAMCLOUD_MAX_UPLOAD_MB=${CAMCLOUD_MAX_UPLOAD_MB:-8} \
    PROXY_CERT_DIR=$1 PROXY_HTTP_UPLOADS=${CAMCLOUD_PLAIN_HTTP_UPLOADS:-false} \
    "$release/deploy/render-proxy.sh" https >"$candidate"
  # The host's nginx.conf with the candidate in place of the enabled sites.
  sed "s#include /etc/nginx/sites-enabled/\*;#include $candidate;#" /etc/nginx/nginx.conf >"$check/nginx.conf"
  if ! nginx -t -q -c "$check/nginx.conf"; then
    rm -rf "$candidate" "$check"
    echo "camcloud-proxy: the new site fails nginx -t; the running site is kept" >&2
    return 1
  fi
  rm -rf "$check"
  chmod 0644 "$candidate"
  mv -f "$candidate" "$site"
  ln -sfn "$site" /etc/nginx/sites-enabled/camcloud
  rm -f /etc/nginx/sites-enabled/default
  systemctl reload-or-restart nginx.service
}

if $renew && [ "$before" = "$(sha256sum "$own/fullchain.pem")" ] && [ -e "$site" ] &&
  { [ -z "$domain" ] || [ "$cert_dir" != "$own" ]; }; then
  exit 0 # nothing changed
fi
load "$cert_dir"
if [ -n "$domain" ] && [ "$cert_dir" = "$own" ]; then
  email=(--register-unsafely-without-email)
  [ -z "${CAMCLOUD_ACME_EMAIL:-}" ] || email=(--email "$CAMCLOUD_ACME_EMAIL")
  if certbot certonly --webroot -w /var/www/camcloud-acme -d "$domain" \
    --non-interactive --agree-tos "${email[@]}"; then
    install -d -m 0755 /etc/letsencrypt/renewal-hooks/deploy
    cat >/etc/letsencrypt/renewal-hooks/deploy/camcloud <<'HOOK'
#!/bin/sh
# A renewed certificate: keep it in the bucket for the next host, then reload nginx.
tar -czf /run/camcloud-le.tgz -C / etc/letsencrypt &&
  python3 /usr/local/lib/camcloud/hostctl.py state-put letsencrypt.tar.gz /run/camcloud-le.tgz
rm -f /run/camcloud-le.tgz
systemctl reload nginx.service
HOOK
    chmod 0755 /etc/letsencrypt/renewal-hooks/deploy/camcloud
    /etc/letsencrypt/renewal-hooks/deploy/camcloud
    load "/etc/letsencrypt/live/$domain"
  else
    echo "camcloud-proxy: no Let's Encrypt certificate yet for $domain (does its A record point" \
      "here?); serving HTTPS with the stack's own certificate, trying again in 5 minutes" >&2
  fi
fi
