#!/usr/bin/env bash
# Builds dist/camcloud-release.tar.gz, what the host installs: the camcloud wheel, the
# hash-locked dependencies (requirements.lock), deploy/ (bootstrap, units, proxy, updater),
# a VERSION line and SHA256SUMS of all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/release" dist
"$python" -m pip wheel -q --no-deps --wheel-dir "$work/release" .
cp -R deploy "$work/release/deploy"
rm -rf "$work/release/deploy/lambda-core"
cp deploy/requirements.lock "$work/release/requirements.lock"
version=$("$python" -c 'import camcloud; print(camcloud.__version__)')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit+local-changes"
echo "$version ($commit, built $(date -u +%Y-%m-%dT%H:%M:%SZ))" >"$work/release/VERSION"
(cd "$work/release" && find . -type f -print0 | sort -z | xargs -0 sha256sum >"$work/SHA256SUMS")
mv "$work/SHA256SUMS" "$work/release/SHA256SUMS"
tar -czf dist/camcloud-release.tar.gz -C "$work" release
echo "dist/camcloud-release.tar.gz: camcloud $(cat "$work/release/VERSION")"
