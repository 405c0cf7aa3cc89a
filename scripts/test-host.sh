#!/usr/bin/env bash
# `make test-host`: the ingest host's whole setup, run for real in a Debian bookworm system
# container (debootstrap + systemd-nspawn, booted with systemd), against a local moto server
# standing in for S3, SSM, STS and CloudWatch. It runs the template's own user data, which
# installs packages with apt, creates the service users, installs the units and the nginx
# site from the release `make deploy` would upload, then checks:
#   - both services answer on loopback, HTTPS verifies against the stack's CA from SSM,
#     plain HTTP redirects, /readyz is refused from a non-loopback address;
#   - each service runs as its own user, and the ingest's user cannot see the gallery's
#     process (ProtectProc=invisible) nor read its secret;
#   - a broken release is rolled back (previous release still serving, UpdateFailed=1) and a
#     good one is switched to.
# Needs root, debootstrap and systemd-nspawn (scripts/system-deps.sh), and the Debian mirror
# this machine's apt uses. Takes a few minutes; .ci/run runs it after `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/debian-root.sh
. scripts/lib/debian-root.sh
started=$SECONDS
step() { printf '\n== [%3ds] %s\n' $((SECONDS - started)) "$*"; }
fail() { echo "test-host: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, systemd-nspawn)"
for tool in debootstrap systemd-nspawn nsenter curl; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/system-deps.sh"
done
mirror=$(debian_mirror)
[ -n "$mirror" ] || fail "no Debian mirror in /etc/apt/sources.list(.d)"

root=$(mktemp -d /var/tmp/camcloud-host.XXXXXX)
work=$(mktemp -d)
moto_pid=""
nspawn_pid=""
cleanup() {
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true # nspawn powers the container off
    for _ in $(seq 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  [ -z "$moto_pid" ] || kill "$moto_pid" 2>/dev/null || true
  rm -rf "$root" "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The address cameras would use: this machine's first non-loopback IPv4 address.
address=$(hostname -I | tr ' ' '\n' | grep -E '^[0-9.]+$' | grep -v '^127\.' | head -n 1)
[ -n "$address" ] || fail "no non-loopback IPv4 address to stand in for the Elastic IP"
for port in 80 443 8001 8002; do
  ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail "port $port is in use here"
done

step "Debian 12 root (scripts/lib/debian-root.sh: cached debootstrap, this machine's CAs)"
debian_root "$root" "$mirror" "$work/debootstrap.log" || fail "debian root"
echo camcloud-host >"$root/etc/hostname"

step "release, and moto standing in for S3, SSM, STS, CloudWatch"
bash deploy/make-release.sh
moto_port=$(.venv/bin/python -c 'from tests.support import free_port; print(free_port())')
.venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!
endpoint="http://127.0.0.1:$moto_port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
for _ in $(seq 50); do curl -fs -o /dev/null "$endpoint/moto-api/" && break; sleep 0.2; done
aws_py() { .venv/bin/python -c "import boto3, sys; e='$endpoint'; $1" "${@:2}"; }
bucket=camcloud-123456789012-us-east-1
aws_py "
s3 = boto3.client('s3', endpoint_url=e)
s3.create_bucket(Bucket='$bucket')
for path, key in (('deploy/hostctl.py', 'hostctl.py'), ('deploy/camcloud-update.sh', 'camcloud-update.sh'),
                  ('dist/camcloud-release.tar.gz', 'camcloud-release.tar.gz')):
    s3.upload_file(path, '$bucket', 'releases/' + key)
# The owner's settings (Parameter Store): here, where the services find S3.
boto3.client('ssm', endpoint_url=e).put_parameter(
    Name='/camcloud/camcloud/settings', Type='String',
    Value='CAMCLOUD_S3_ENDPOINT=$endpoint\nnot a setting')
"

# The template's own first-boot script, as CloudFormation renders it for this address.
PYTHONPATH=tests/template .venv/bin/python - "$address" >"$root/root/user-data.sh" <<'PY'
import sys
from cfn_render import render
script = render().props("HostLaunchTemplate")["LaunchTemplateData"]["UserData"]
script = script.replace("<ElasticIp>", sys.argv[1])
script = script.replace("<IngestRole.Arn>", "arn:aws:iam::123456789012:role/camcloud-ingest")
script = script.replace("<GalleryRole.Arn>", "arn:aws:iam::123456789012:role/camcloud-gallery")
script = script.replace("<TimelapseFunction>", "camcloud-TimelapseFunction-0test")
script = script.replace("<AWS::StackId>", "arn:aws:cloudformation:us-east-1:123456789012:stack/camcloud/x")
print(script, end="")
PY
# cloud-init's stand-in: a unit that runs the user data once at boot. The drop-ins point
# the root-side AWS calls at moto (in production: the instance role, from the metadata).
test_env="Environment=CAMCLOUD_AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing CAMCLOUD_INSTANCE_ID=i-0testhost PIP_CERT=/etc/ssl/certs/ca-certificates.crt"
cat >"$root/etc/systemd/system/camcloud-firstboot.service" <<UNIT
[Unit]
Description=stand-in for cloud-init: the stack's user data
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
$test_env
ExecStart=/bin/bash /root/user-data.sh
ExecStopPost=/bin/sh -c 'echo \$\$SERVICE_RESULT \$\$EXIT_STATUS >/root/firstboot.result'
StandardOutput=file:/root/firstboot.log
StandardError=inherit
TimeoutStartSec=1200

[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/camcloud-firstboot.service \
  "$root/etc/systemd/system/multi-user.target.wants/camcloud-firstboot.service"
for unit in camcloud-update camcloud-credentials; do
  mkdir -p "$root/etc/systemd/system/$unit.service.d"
  printf '[Service]\n%s\n' "$test_env" >"$root/etc/systemd/system/$unit.service.d/moto.conf"
done

step "boot the container; first boot: apt install, users, units, release, nginx"
systemd-nspawn -D "$root" --boot --register=no --keep-unit --console=passive \
  >"$work/console.log" 2>&1 &
nspawn_pid=$!
deadline=$((SECONDS + 1200))
until [ -s "$root/root/firstboot.result" ]; do
  kill -0 "$nspawn_pid" 2>/dev/null || { tail -n 30 "$work/console.log"; fail "container stopped"; }
  [ $SECONDS -lt $deadline ] || fail "first boot did not finish in 20 minutes"
  sleep 3
done
leader=$(ps -o pid= --ppid "$nspawn_pid" | head -n 1 | tr -d ' ')
inside() { nsenter --target "$leader" --all "$@"; }
if [ "$(cat "$root/root/firstboot.result")" != "success 0" ]; then
  tail -n 60 "$root/root/firstboot.log"
  inside journalctl -u camcloud-ingest.service -u camcloud-gallery.service -n 30 --no-pager -o cat || true
  fail "first boot: $(cat "$root/root/firstboot.result")"
fi
tail -n 12 "$root/root/firstboot.log"

step "both services answer; HTTPS verifies against the stack's CA; /readyz stays on the host"
aws_py "print(boto3.client('ssm', endpoint_url=e).get_parameter(Name='/camcloud/camcloud/tls/ca-cert')['Parameter']['Value'])" >"$work/ca.pem"
[ "$(curl -fsS --cacert "$work/ca.pem" "https://$address/healthz")" != "" ] || fail "healthz over HTTPS"
echo "https://$address/healthz: $(curl -fsS --cacert "$work/ca.pem" "https://$address/healthz")"
echo "ingest on loopback: $(curl -fsS http://127.0.0.1:8001/healthz)"
gallery=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8002/login)
echo "gallery on loopback: /login answers $gallery"
[ "$gallery" = 200 ] || fail "gallery /login answered $gallery"
redirect=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$address/login")
echo "http://$address/login: $redirect"
[ "$redirect" = "308 https://$address/login" ] || fail "plain HTTP is not redirected"
outside=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/ca.pem" "https://$address/readyz")
host_only=$(curl -fsS --cacert "$work/ca.pem" --resolve "$address:443:127.0.0.1" "https://$address/readyz")
echo "/readyz from $address: $outside; from 127.0.0.1: $host_only"
[ "$outside" = 403 ] || fail "/readyz reachable from outside the host"

step "one unix user per service; the ingest cannot see the gallery"
pid_of() { inside systemctl show -P MainPID "$1"; }
ingest_pid=$(pid_of camcloud-ingest.service)
gallery_pid=$(pid_of camcloud-gallery.service)
ingest_user=$(inside ps -o user= -p "$ingest_pid")
gallery_user=$(inside ps -o user= -p "$gallery_pid")
echo "ingest runs as $ingest_user (pid $ingest_pid), gallery as $gallery_user (pid $gallery_pid)"
if [ "$ingest_user" != camcloud-ingest ] || [ "$gallery_user" != camcloud-gallery ]; then
  fail "service users"
fi
# In the ingest's own mount namespace (its /proc) and as its user:
# (its host pid: the process whose NSpid, host pid then container pid, ends in the ingest's)
host_ingest=$(grep -lE "^NSpid:[[:space:]]+[0-9]+[[:space:]]+$ingest_pid\$" /proc/[0-9]*/status 2>/dev/null |
  head -n 1 | cut -d/ -f3)
[ -n "$host_ingest" ] || fail "cannot find the ingest's process from the host"
as_ingest() { nsenter --target "$host_ingest" --mount --pid --setuid "$(stat -c %u "$root/var/lib/camcloud/spool")" --setgid "$(stat -c %g "$root/var/lib/camcloud/spool")" "$@"; }
if as_ingest ls "/proc/$gallery_pid/environ" >/dev/null 2>&1; then fail "the ingest sees the gallery's process"; fi
if as_ingest cat /etc/camcloud/secret.env >/dev/null 2>&1; then fail "the ingest reads the gallery's secret"; fi
if as_ingest cat /run/camcloud-credentials/camcloud-gallery.json >/dev/null 2>&1; then
  fail "the ingest reads the gallery's credentials"
fi
echo "as camcloud-ingest: /proc/$gallery_pid invisible, secret.env and the gallery's credentials unreadable"
inside systemctl show -P ProtectProc camcloud-ingest.service | grep -qx invisible || fail "ProtectProc"

step "a broken release rolls back; a good one switches"
# The timer would run the updater by itself (2 minutes after boot, then every 5): stop it
# and let a run in progress end, so each start below is one run of its own.
inside systemctl stop camcloud-update.timer
while inside systemctl is-active -q camcloud-update.service; do sleep 1; done
first=$(readlink "$root/opt/camcloud/current")
mkdir -p "$work/broken"
tar -xzf dist/camcloud-release.tar.gz -C "$work/broken"
# A release whose ingest cannot start: gunicorn cannot load its configuration.
echo 'raise SystemExit("broken on purpose")' >>"$work/broken/release/deploy/gunicorn.conf.py"
echo "broken-on-purpose" >"$work/broken/release/VERSION"
tar -czf "$work/broken.tar.gz" -C "$work/broken" release
aws_py "boto3.client('s3', endpoint_url=e).upload_file('$work/broken.tar.gz', '$bucket', 'releases/camcloud-release.tar.gz')"
if inside systemctl start camcloud-update.service; then
  inside journalctl -u camcloud-update.service -o cat --no-pager | tail -n 20
  fail "the broken release was accepted"
fi
inside journalctl -u camcloud-update.service -o cat --no-pager | grep -E "rolling back|FAILED" | tail -n 3
[ "$(readlink "$root/opt/camcloud/current")" = "$first" ] || fail "not rolled back"
curl -fsS --cacert "$work/ca.pem" "https://$address/healthz" >/dev/null || fail "not serving after rollback"
failed_metric=$(aws_py "
stats = boto3.client('cloudwatch', endpoint_url=e).list_metrics(Namespace='camcloud/host')['Metrics']
print(sorted({m['MetricName'] for m in stats}))")
echo "still serving $(basename "$first"); metrics published: $failed_metric"
[[ "$failed_metric" == *UpdateFailed* ]] || fail "no UpdateFailed metric"
# The same broken release is not retried at once (backoff), even by the timer.
inside systemctl start camcloud-update.service || fail "backoff run failed"
inside journalctl -u camcloud-update.service -o cat --no-pager | grep "next attempt" | tail -n 1
# A good release (the first one, rebuilt) switches and keeps the previous one for rollback.
sleep 1
bash deploy/make-release.sh >/dev/null
aws_py "boto3.client('s3', endpoint_url=e).upload_file('dist/camcloud-release.tar.gz', '$bucket', 'releases/camcloud-release.tar.gz')"
inside systemctl start camcloud-update.service || fail "the good release failed"
second=$(readlink "$root/opt/camcloud/current")
if [ "$second" = "$first" ] || [ ! -d "$root$first" ]; then fail "no switch to the new release"; fi
curl -fsS --cacert "$work/ca.pem" "https://$address/healthz" >/dev/null || fail "not serving after the switch"
echo "switched $(basename "$first") -> $(basename "$second"); releases kept: $(find "$root/opt/camcloud/releases" -mindepth 1 -maxdepth 1 | wc -l)"

step "host test passed in $((SECONDS - started)) s"
