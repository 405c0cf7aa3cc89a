#!/usr/bin/env bash
# Prints camcloud's nginx site: `render-proxy.sh https` (what the host runs: port 80 answers
# /healthz, ACME challenges and a 308 to HTTPS; the app on 443) or `render-proxy.sh http`
# (the app on port 80 alone; only the tests use it). Settings come from the environment:
# CAMCLOUD_DOMAIN (optional), CAMCLOUD_MAX_UPLOAD_MB, PROXY_CERT_DIR (fullchain.pem and
# privkey.pem: Let's Encrypt's or the stack's own, see camcloud-proxy), PROXY_HTTP_UPLOADS
# (true keeps uploads on port 80 for cameras not yet reflashed); the other PROXY_* variables
# exist so tests can run the same site on loopback ports.
set -euo pipefail
mode=${1:?usage: render-proxy.sh http|https}
domain=${CAMCLOUD_DOMAIN:-}
max_mb=${CAMCLOUD_MAX_UPLOAD_MB:-8}
http_listen=${PROXY_HTTP_LISTEN:-80}
https_listen=${PROXY_HTTPS_LISTEN:-443}
ingest=${PROXY_INGEST:-127.0.0.1:8001}
gallery=${PROXY_GALLERY:-127.0.0.1:8002}
acme_root=${PROXY_ACME_ROOT:-/var/www/camcloud-acme}
cert_dir=${PROXY_CERT_DIR:-/etc/camcloud/tls}
http_uploads=${PROXY_HTTP_UPLOADS:-false}
case "$mode" in
  http | https) ;;
  *) echo "render-proxy.sh: unknown mode $mode" >&2; exit 2 ;;
esac
case "$http_uploads" in
  true | false) ;;
  *) echo "render-proxy.sh: PROXY_HTTP_UPLOADS must be true or false" >&2; exit 2 ;;
esac

app_locations() {
  cat <<NGINX
    # Everything but uploads is the gallery: small requests only.
    client_max_body_size 1m;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host \$host;
    proxy_set_header X-Real-IP \$remote_addr;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto \$scheme;

    location = /upload {
        # nginx reads the whole image first (chunked bodies too, passed on with a
        # Content-Length), so a camera on weak Wi-Fi never holds an app worker; typical
        # frames stay in memory, larger ones spill to disk, over the limit is refused here.
        # One spare MiB for multipart framing: the ingest enforces the exact image limit.
        client_max_body_size $((max_mb + 1))m;
        client_body_buffer_size 1m;
        client_body_timeout 60s;
        proxy_request_buffering on;
        proxy_read_timeout 60s;
        error_page 413 = @upload_too_large;
        error_page 502 503 504 = @ingest_unavailable;
        proxy_pass http://camcloud_ingest;
    }
    location = /device/state {
        # Device check-ins (protocol v1.1): a GET with the device key, answered by the ingest.
        error_page 502 503 504 = @ingest_unavailable;
        proxy_pass http://camcloud_ingest;
    }
    location = /healthz {
        # The load balancer's check: says "ok" and nothing else.
        proxy_pass http://camcloud_ingest;
    }
    location ~ ^/(readyz|metrics)\$ {
        # Operational detail (S3 state, spool size, device names, rates): the host itself
        # only (camcloud-update reads /readyz to decide a rollback).
        allow 127.0.0.1;
        allow ::1;
        deny all;
        proxy_pass http://camcloud_ingest;
    }
    location / {
        proxy_pass http://camcloud_gallery;
    }
    # The device protocol's error shape, so firmware parses the proxy's answers like the app's.
    location @upload_too_large {
        default_type application/json;
        return 413 '{"error": "too_large", "message": "the image is larger than ${max_mb} MiB"}';
    }
    location @ingest_unavailable {
        default_type application/json;
        add_header Retry-After 30 always;
        return 503 '{"error": "unavailable", "message": "the ingest is restarting, retry shortly"}';
    }
NGINX
}

cat <<NGINX
# camcloud: written by render-proxy.sh ($mode); camcloud-proxy rewrites it on every update.
upstream camcloud_ingest {
    server $ingest;
    keepalive 16;
}
upstream camcloud_gallery {
    server $gallery;
    keepalive 16;
}

server {
    listen $http_listen default_server;
    server_name ${domain:-_};
    server_tokens off;

    location /.well-known/acme-challenge/ {
        root $acme_root;
    }
NGINX
if [ "$mode" = http ]; then
  app_locations
else
  if [ "$http_uploads" = true ]; then
    cat <<NGINX
    # PlainHttpUploads: cameras flashed with an http:// URL keep uploading (their keys cross
    # the internet in clear) until they are reflashed; the gallery stays HTTPS-only.
    location ~ ^/(upload|device/state)\$ {
        client_max_body_size $((max_mb + 1))m;
        client_body_buffer_size 1m;
        client_body_timeout 60s;
        proxy_request_buffering on;
        proxy_read_timeout 60s;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$host;
        proxy_set_header X-Real-IP \$remote_addr;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto \$scheme;
        proxy_pass http://camcloud_ingest;
    }
NGINX
  fi
  cat <<NGINX
    location = /healthz {
        # The load balancer checks plain HTTP on port 80.
        proxy_pass http://camcloud_ingest;
    }
    location / {
        # 308 keeps the method and body, so a camera still on http:// gets a clear answer.
        return 308 https://\$host\$request_uri;
    }
NGINX
fi
echo "}"
if [ "$mode" = https ]; then
  cat <<NGINX

server {
    listen $https_listen ssl http2 default_server;
    server_name ${domain:-_};
    server_tokens off;

    ssl_certificate $cert_dir/fullchain.pem;
    ssl_certificate_key $cert_dir/privkey.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:camcloud_tls:5m;
    ssl_session_timeout 1d;
    add_header Strict-Transport-Security "max-age=31536000" always;

NGINX
  app_locations
  echo "}"
fi
