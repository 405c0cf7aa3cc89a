#!/usr/bin/env bash
# `make deploy`: build the thumbnailer, deploy the stack (`sam deploy --guided` the first time,
# which saves your answers to samconfig.toml), then upload the release the EC2 host installs.
# Needs AWS credentials for the target account (`aws configure`, or AWS_PROFILE).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/sam-env.sh
. deploy/sam-env.sh
ensure_sam
ensure_lambda_python
"$SAM" build
if [ -f samconfig.toml ]; then
  "$SAM" deploy
else
  "$SAM" deploy --guided
fi
bash deploy/make-release.sh
"${PYTHON:-.venv/bin/python}" deploy/publish_release.py
