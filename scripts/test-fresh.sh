#!/usr/bin/env bash
# `make test-fresh`: the README's two commands on a fresh Debian 12, as a newcomer runs them.
# A minimal bookworm root (debootstrap, scripts/lib/debian-root.sh: nothing of this machine's
# but its apt mirror and CA certificates), Debian's own Python 3.11 only, git and make; the
# repository's committed HEAD cloned into it; then, in a systemd-nspawn container sharing this
# machine's network:
#   1. `make run` until the banner (timed), one upload with the banner's curl (201), stop it;
#   2. `make test` (installs its Debian packages itself, as root, like a fresh machine's admin).
# The container's pip cache lives on this machine (/var/cache/camcloud-test-fresh/pip, bound in).
# Needs root, debootstrap and systemd-nspawn. Not part of `make test` (tens of minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# shellcheck source=scripts/lib/debian-root.sh
. scripts/lib/debian-root.sh
started=$SECONDS
step() { printf '\n== [%4ds] %s\n' $((SECONDS - started)) "$*"; }
fail() { echo "test-fresh: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, systemd-nspawn)"
for tool in debootstrap systemd-nspawn git; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/system-deps.sh"
done
mirror=$(debian_mirror)
[ -n "$mirror" ] || fail "no Debian mirror in /etc/apt/sources.list(.d)"

root=$(mktemp -d /var/tmp/camcloud-fresh.XXXXXX)
work=$(mktemp -d)
cleanup() { rm -rf "$root" "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

step "Debian 12 root in $root"
debian_root "$root" "$mirror" "$work/debootstrap.log" || fail "debian root"

step "apt-get install git make python3 python3-venv curl (Debian's Python only)"
chroot "$root" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive;
  apt-get update -qq && apt-get install -y -qq --no-install-recommends \
    git make python3 python3-venv ca-certificates curl >/dev/null' || fail "apt-get"
chroot "$root" python3 --version
if chroot "$root" /bin/sh -c 'ls /usr/bin/python3.1[2-9]* /usr/local/bin/python3* 2>/dev/null' | grep -q .; then
  fail "the root has a Python other than 3.11"
fi

step "git clone of this repository's HEAD ($(git rev-parse --short HEAD)), twice"
# The first clone's `make run` fills the pip cache (the figure of a first run ever); the
# second is the README's figure: a fresh clone with a warm pip cache.
git clone -q "$repo" "$root/root/camcloud-first"
git clone -q "$repo" "$root/root/camcloud"

pip_cache=/var/cache/camcloud-test-fresh/pip
mkdir -p "$pip_cache"
in_container() {
  systemd-nspawn -q -D "$root" --register=no --keep-unit --as-pid2 \
    --bind="$pip_cache:/root/.cache/pip" --setenv=PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    --chdir=/root/camcloud "$@"
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "make run (PORT=$port) until the banner, then the banner's curl; first and fresh clone"
# One script in the container: nspawn's own process group, so stopping it stops everything.
cat >"$root/root/run-once.sh" <<'SCRIPT'
set -u
cd "$1"
start=$(date +%s.%N)
setsid make run >/root/run.log 2>&1 &
pid=$!
until grep -q 'curl -sS' /root/run.log; do
  kill -0 "$pid" 2>/dev/null || { cat /root/run.log; echo "make run exited"; exit 1; }
  sleep 0.1
done
end=$(date +%s.%N)
echo "time to banner ($1): $(echo "$end - $start" | awk '{print $1 - $3}') s"
cat /root/run.log
.venv/bin/python -c "from PIL import Image; Image.new('RGB', (640, 480), 'teal').save('photo.jpg')"
# The banner's own curl command (two lines joined), with -w for the status code.
cmd=$(grep -A1 'curl -sS' /root/run.log | sed 's/\\$//' | tr -d '\n')
echo "+ $cmd"
status=$(eval "$cmd -o /root/answer.json -w '%{http_code}'")
echo "upload answered $status: $(cat /root/answer.json)"
kill -TERM -- -"$pid" 2>/dev/null
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 -- -"$pid" 2>/dev/null; then
  echo "make run did not stop within 30 s of SIGTERM: killed"
  kill -KILL -- -"$pid" 2>/dev/null
fi
[ "$status" = 201 ]
SCRIPT
for clone in /root/camcloud-first /root/camcloud; do
  timeout 1200 systemd-nspawn -q -D "$root" --register=no --keep-unit --as-pid2 \
    --bind="$pip_cache:/root/.cache/pip" --setenv=PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    --setenv=PORT="$port" /bin/bash /root/run-once.sh "$clone" >>"$work/run.txt" 2>&1 ||
    { cat "$work/run.txt"; fail "make run + upload in $clone"; }
done
cat "$work/run.txt"

step "make test"
test_started=$SECONDS
set +e
in_container /bin/bash -c 'make test' 2>&1 | tee "$work/test.txt"
rc=${PIPESTATUS[0]}
set -e
echo "make test: exit $rc after $((SECONDS - test_started)) s"
grep 'time to banner' "$work/run.txt"
[ "$rc" -eq 0 ] || fail "make test"
step "done: make run + upload and make test pass on a fresh Debian 12 with Python 3.11"
