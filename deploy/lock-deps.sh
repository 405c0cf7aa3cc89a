#!/usr/bin/env bash
# Writes deploy/requirements.lock: camcloud's runtime dependencies at exactly the versions
# installed in the tested environment (.venv), each with the sha256 of every file PyPI has
# for that version (so the arm64 host and an amd64 one both install with --require-hashes).
# Run it after changing dependencies in pyproject.toml; tests/template/test_release.py fails
# until the lock matches .venv again. Needs PyPI; the check of the result does not.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
lock_venv=.venv-lock
if [ ! -x "$lock_venv/bin/pip-compile" ]; then
  python3 -m venv "$lock_venv"
  "$lock_venv/bin/python" -m pip install -q "pip-tools>=7.4,<8"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The tested versions, as constraints: the resolver may choose nothing else.
"$python" -m pip freeze --exclude-editable --disable-pip-version-check >"$work/tested.txt"
"$lock_venv/bin/pip-compile" -q --generate-hashes --strip-extras --allow-unsafe \
  --no-emit-index-url --no-emit-find-links --no-annotate --no-header --constraint "$work/tested.txt" \
  --output-file "$work/requirements.lock" pyproject.toml
{
  echo "# camcloud's runtime dependencies, as tested (deploy/lock-deps.sh writes this file)."
  echo "# The host installs them with pip --require-hashes --only-binary=:all:."
  cat "$work/requirements.lock"
} >deploy/requirements.lock
echo "deploy/requirements.lock: $(grep -c '==' deploy/requirements.lock) packages"
