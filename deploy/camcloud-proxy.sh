#!/usr/bin/env bash
# Writes and loads the nginx site for the stack: plain HTTP, or, with a domain, HTTP for
# Let's Encrypt challenges and redirects plus HTTPS once a certificate exists (obtained here;
# certbot's own timer renews it and the deploy hook reloads nginx).
set -euo pipefail
# shellcheck source=/dev/null
. /etc/camcloud/stack.env
export CAMCLOUD_DOMAIN="${CAMCLOUD_DOMAIN:-}" CAMCLOUD_MAX_UPLOAD_MB="${CAMCLOUD_MAX_UPLOAD_MB:-8}"
render=/usr/local/lib/camcloud/render-proxy.sh
site=/etc/nginx/sites-available/camcloud

load() { # load MODE: render the site in MODE, check it, swap it in, reload nginx
  "$render" "$1" >"$site.new"
  mv -f "$site.new" "$site"
  ln -sf "$site" /etc/nginx/sites-enabled/camcloud
  rm -f /etc/nginx/sites-enabled/default
  nginx -t -q
  systemctl reload-or-restart nginx.service
}

if [ -z "$CAMCLOUD_DOMAIN" ]; then
  load http
  exit 0
fi
live="/etc/letsencrypt/live/$CAMCLOUD_DOMAIN"
if [ ! -e "$live/fullchain.pem" ]; then
  load http # serves the challenge directory too, so certbot can prove the name
  email=(--register-unsafely-without-email)
  [ -z "${CAMCLOUD_ACME_EMAIL:-}" ] || email=(--email "$CAMCLOUD_ACME_EMAIL")
  if ! certbot certonly --webroot -w /var/www/camcloud-acme -d "$CAMCLOUD_DOMAIN" \
    --non-interactive --agree-tos "${email[@]}"; then
    echo "camcloud-proxy: no certificate yet for $CAMCLOUD_DOMAIN (does its A record point" \
      "here?); serving HTTP, trying again on the next camcloud-update run" >&2
    exit 0
  fi
fi
install -d -m 0755 /etc/letsencrypt/renewal-hooks/deploy
printf '#!/bin/sh\nsystemctl reload nginx.service\n' >/etc/letsencrypt/renewal-hooks/deploy/camcloud-nginx
chmod 0755 /etc/letsencrypt/renewal-hooks/deploy/camcloud-nginx
load https
