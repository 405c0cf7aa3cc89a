#!/usr/bin/env bash
# `make deploy`: build the thumbnailer and the release, then deploy the stack (`sam deploy
# --guided` the first time, which saves your answers to samconfig.toml). The release goes to
# the bucket while CloudFormation waits: a new host installs it and signals /readyz before
# the stack (or the update) completes. Needs AWS credentials (`aws configure`, or AWS_PROFILE).
#   make deploy               keeps the host image recorded in samconfig.toml
#   make deploy IMAGE=latest  moves to Canonical's current Ubuntu 24.04 image (replaces the
#                             host(s) the safe way: new one ready first, old one drained)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/sam-env.sh
. deploy/sam-env.sh
ensure_sam
python=${PYTHON:-.venv/bin/python}
"$SAM" build
bash deploy/make-release.sh

overrides=()
image=$("$python" deploy/publish_release.py --image "${IMAGE:-keep}") || exit 1
[ -z "$image" ] || overrides=(--parameter-overrides "$image")

# The host waits for the release: upload it as soon as the bucket exists.
"$python" deploy/publish_release.py --wait-for-stack &
publisher=$!
if [ -f samconfig.toml ]; then
  "$SAM" deploy "${overrides[@]}"
else
  "$SAM" deploy --guided "${overrides[@]}"
fi
wait "$publisher"
"$python" deploy/publish_release.py --summary
