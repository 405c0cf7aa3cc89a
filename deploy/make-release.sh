#!/usr/bin/env bash
# Builds dist/camcloud-release.tar.gz, what the EC2 host installs: the camcloud wheel, deploy/
# (bootstrap, units, proxy, updater) and a VERSION line.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/release" dist
"$python" -m pip wheel -q --no-deps --wheel-dir "$work/release" .
cp -R deploy "$work/release/deploy"
rm -rf "$work/release/deploy/lambda-core"
version=$("$python" -c 'import camcloud; print(camcloud.__version__)')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit+local-changes"
echo "$version ($commit, built $(date -u +%Y-%m-%dT%H:%M:%SZ))" >"$work/release/VERSION"
tar -czf dist/camcloud-release.tar.gz -C "$work" release
echo "dist/camcloud-release.tar.gz: camcloud $(cat "$work/release/VERSION")"
