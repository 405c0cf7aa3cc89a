#!/usr/bin/env bash
# Time to banner of `make run` in a fresh clone with warm package caches (the README's figure).
# Usage: bash bench/first_run.sh [RUNS]      (default 3; WARMUP=0 skips the warm-up run)
#        XDG_CACHE_HOME=$(mktemp -d) WARMUP=0 bash bench/first_run.sh 1   (a first run ever)
#
# Each run: `git clone` of this repository's committed HEAD into a temporary directory, then
# `make run` on a free port until the banner's `curl -sS` line, one upload with the banner's
# curl (must answer 201), then the stack is stopped (SIGTERM to its process group). A warm-up
# run first fills the caches (uv's, and the uv binary in ~/.cache/camcloud) if cold; not counted.
# Per run it prints the wall seconds to the banner, split at the lines `make run` prints (venv,
# packages, stack start), and the CPU seconds the whole `make run` used until then: on a
# shared machine the wall figure moves with the load, the CPU figure hardly. Then min, median.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
work=$(mktemp -d /tmp/camcloud-first-run.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -KILL -- -"$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# CPU seconds (user + system, with reaped children) of every process in session $1.
session_cpu() {
  python3 - "$1" <<'PY'
import os, sys
ticks, total = os.sysconf("SC_CLK_TCK"), 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if fields[3] == sys.argv[1]:  # the session id
        total += sum(int(value) for value in fields[11:15])
print(f"{total / ticks:.1f}")
PY
}

# Stops the session started by one_run (its leader is $1) and everything in it.
stop_run() {
  kill -TERM -- -"$1" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 -- -"$1" 2>/dev/null || return 0; sleep 0.1; done
  echo "make run did not stop within 30 s of SIGTERM: killed" >&2
  kill -KILL -- -"$1" 2>/dev/null || true
}

# One fresh clone's `make run` until the banner and one upload; prints
# "total venv packages start cpu" (seconds).
one_run() {
  local dir=$work/clone-$1 log=$work/run-$1.log
  git clone -q "$repo" "$dir"
  local start=$EPOCHREALTIME
  # Its own session and process group (setsid without a fork: $! is the group's id), so
  # stopping it stops make, the stack, moto and the stamping loop together. Every line is
  # stamped with bash's clock (no process per line).
  # shellcheck disable=SC2016 # $EPOCHREALTIME is the inner bash's, read per line
  (cd "$dir" && PORT=$(free_port) exec setsid bash -c 'make run 2>&1 |
      while IFS= read -r line; do printf "%s %s\n" "$EPOCHREALTIME" "$line"; done' >"$log") &
  pid=$!
  until grep -q 'curl -sS' "$log" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "make run exited before the banner" >&2; exit 1; }
    sleep 0.05
  done
  local end=$EPOCHREALTIME cpu
  cpu=$(session_cpu "$pid")
  "$dir/.venv/bin/python" -c \
    "from PIL import Image; Image.new('RGB', (640, 480), 'teal').save('$work/photo.jpg')"
  local cmd status
  cmd=$(grep -A1 'curl -sS' "$log" | cut -d' ' -f2- | sed 's/\\$//' | tr -d '\n')
  status=$(cd "$work" && eval "$cmd -o /dev/null -w '%{http_code}'")
  [ "$status" = 201 ] || { cat "$log" >&2; echo "the banner's curl answered $status" >&2; exit 1; }
  stop_run "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  du -sm "$dir/.venv" | cut -f1 >"$work/size"
  # The phases end at the lines scripts/install-run.sh and make print.
  awk -v start="$start" -v end="$end" -v cpu="$cpu" '
    !packages && /camcloud: \[.*\] installing/ {packages = $1}
    !stack && /-m camcloud_cli local/ {stack = $1}
    END {printf "%.1f %.1f %.1f %.1f %s\n", end - start, packages - start, stack - packages,
           end - stack, cpu}' "$log"
  rm -rf "$dir"
}

caches="warm caches (after a warm-up run)"
[ "${WARMUP:-1}" = 1 ] || caches="caches as found (WARMUP=0)"
echo "time to banner: fresh clone of $(git -C "$repo" rev-parse --short HEAD), make run, $caches"
echo "($(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg) before; $(python3 --version))"
if [ "${WARMUP:-1}" = 1 ]; then one_run warmup >/dev/null; fi
printf '%4s %8s %8s %10s %8s %8s\n' run "total s" "venv s" "packages s" "start s" "CPU s"
results=()
for i in $(seq "$runs"); do
  read -r total venv packages start cpu < <(one_run "$i")
  results+=("$total $cpu")
  printf '%4s %8s %8s %10s %8s %8s\n' "$i" "$total" "$venv" "$packages" "$start" "$cpu"
done
printf '%s\n' "${results[@]}" | awk -v size="$(cat "$work/size")" \
  -v load="$(cut -d' ' -f1 /proc/loadavg)" '
  function median(values, n,   i, j, swap) {
    for (i = 2; i <= n; i++)
      for (j = i; j > 1 && values[j - 1] > values[j]; j--) {
        swap = values[j]; values[j] = values[j - 1]; values[j - 1] = swap
      }
    return n % 2 ? values[(n + 1) / 2] : (values[n / 2] + values[n / 2 + 1]) / 2
  }
  {wall[NR] = $1; cpu[NR] = $2} END {
    middle = median(wall, NR); spent = median(cpu, NR)
    printf "time to banner: min %.1f s, median %.1f s of %d runs (goal <= 20 s: %s); " \
      "CPU median %.1f s; .venv %s MB; load average after: %s\n",
      wall[1], middle, NR, (middle <= 20 ? "met" : "NOT met"), spent, size, load}'
