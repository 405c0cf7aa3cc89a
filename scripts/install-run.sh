#!/usr/bin/env bash
# `make run`'s install: the virtualenv with camcloud and what the local stack needs (`.[local]`),
# in seconds when the package caches are warm. Usage: scripts/install-run.sh [PYTHON] [VENV]
#
# Where pip spent its minutes, and what is done instead:
#   - `python3 -m venv` runs ensurepip (installs and byte-compiles pip and setuptools: seconds of
#     CPU): the venv is made without pip; pip is linked in by uv afterwards, for `make test`.
#   - pip resolves one package at a time and byte-compiles every file of every package (moto
#     has over a thousand): uv resolves and downloads in parallel and links files from its
#     cache; the stack's first start compiles only the modules it imports.
#   - The editable install of the checkout is built by setuptools in an isolated environment
#     (several interpreter starts): scripts/link-checkout.py writes the same result directly.
#   - uv itself: the pinned binary from the user's cache (scripts/get-uv.py; fetched once).
#   - If uv cannot be had or fails (no wheel for this machine, an index only pip is set up
#     for), pip installs everything as before: slower, same result.
# Each step prints one line with the seconds since the start: no silent minute.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
# Pinned, so every clone finds it in the cache (scripts/get-uv.py).
uv_version=0.13.9
start_us=${EPOCHREALTIME//[.,]/}

say() {
  local now_us=${EPOCHREALTIME//[.,]/}
  local tenths=$(((now_us - start_us) / 100000))
  printf 'camcloud: [%d.%ds] %s\n' $((tenths / 10)) $((tenths % 10)) "$*"
}

# One start of the interpreter (through a pyenv shim, each costs a second on a busy machine):
# the version check, the venv module check, and the real interpreter's path for what follows.
checked=$("$python" -c '
import sys
if sys.version_info < (3, 11):
    sys.exit("camcloud needs Python 3.11 or newer (found: %s)" % sys.version.split()[0])
try:
    import ensurepip  # noqa: F401  (Debian splits it out, with venv, into python3-venv)
except ImportError:
    sys.exit("%s cannot make a virtualenv: on Debian, apt-get install python3-venv"
             % sys.executable)
print(sys.executable, sys.version.split()[0])
')
read -r python version <<<"$checked"

if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv with Python $version"
  "$python" -m venv --without-pip "$venv"
fi
vpython=$venv/bin/python

# uv reads its own settings, not pip's: carry over an index and a CA bundle given to pip.
if [ -n "${PIP_INDEX_URL:-}" ]; then export UV_INDEX_URL=${UV_INDEX_URL:-$PIP_INDEX_URL}; fi
if [ -n "${PIP_EXTRA_INDEX_URL:-}" ]; then
  export UV_EXTRA_INDEX_URL=${UV_EXTRA_INDEX_URL:-$PIP_EXTRA_INDEX_URL}
fi
if [ -n "${PIP_CERT:-}" ]; then export SSL_CERT_FILE=${SSL_CERT_FILE:-$PIP_CERT}; fi

uv=$(command -v uv || "$python" scripts/get-uv.py "$uv_version" || true)
# pip too, so `make test` and the user's own `.venv/bin/pip` work as in any venv. The
# requirements come from pyproject.toml as written (nothing is built); the checkout itself is
# then installed editable by scripts/link-checkout.py.
requirements=(-r pyproject.toml --extra local pip)
uv_install() {
  # First from uv's cache alone: no index round trips (a second per run), and the versions an
  # earlier clone got. When the cache cannot satisfy pyproject.toml (cold, or a requirement
  # changed), uv fails at once and the index is asked.
  local cached
  if cached=$("$uv" pip install --offline --python "$vpython" "${requirements[@]}" 2>&1); then
    printf '%s\n' "$cached"
    return 0
  fi
  "$uv" pip install --python "$vpython" "${requirements[@]}"
}
if [ -n "$uv" ]; then
  say "installing the local stack's packages with uv (pyproject.toml's dependencies + [local])"
  if uv_install; then
    say "installing camcloud from this checkout (editable)"
    "$vpython" scripts/link-checkout.py
    say "installed"
    exit 0
  fi
  echo "camcloud: uv failed (above); installing with pip instead (a few minutes)"
else
  echo "camcloud: no uv (above); installing with pip instead (a few minutes)"
fi
if ! "$vpython" -m pip --version >/dev/null 2>&1; then
  say "installing pip into $venv (ensurepip)"
  "$vpython" -m ensurepip --upgrade --default-pip >/dev/null
fi
say "installing camcloud and the local stack's packages with pip (pip install -e '.[local]')"
# Not -q: pip's own lines (Collecting ..., progress bars on a terminal) are the progress.
"$vpython" -m pip install --disable-pip-version-check -e '.[local]'
say "installed"
