# Sourced by scripts/test-template.sh and deploy/deploy.sh: the SAM CLI in its own virtualenv
# (it pins boto3 and click below what camcloud uses). The functions build with BuildMethod:
# makefile (deploy/lambda-function.mk): pip fetches the runtime's (CPython 3.13) wheels from
# any Python, so no local python3.13 is needed.
# shellcheck shell=bash

SAM_VENV=${SAM_VENV:-.venv-sam}
SAM_REQUIREMENT='aws-sam-cli>=1.140,<2'
LAMBDA_PYTHON=python3.13 # template.yaml's Runtime; only the import test uses it, when present
export SAM_CLI_TELEMETRY=0

# ensure_sam: create or reuse $SAM_VENV with the SAM CLI; sets SAM to its executable.
ensure_sam() {
  if [ ! -x "$SAM_VENV/bin/sam" ] || [ "$(cat "$SAM_VENV/.requirement" 2>/dev/null)" != "$SAM_REQUIREMENT" ]; then
    echo "installing $SAM_REQUIREMENT into $SAM_VENV"
    "${PYTHON:-python3}" -m venv "$SAM_VENV"
    "$SAM_VENV/bin/python" -m pip install -q --upgrade pip
    "$SAM_VENV/bin/python" -m pip install -q "$SAM_REQUIREMENT"
    echo "$SAM_REQUIREMENT" >"$SAM_VENV/.requirement"
  fi
  # shellcheck disable=SC2034 # read by the scripts that source this file
  SAM="$SAM_VENV/bin/sam"
  # The pip deploy/lambda-function.mk runs (the system python3 may have none).
  CAMCLOUD_LAMBDA_PIP="$PWD/$SAM_VENV/bin/python -m pip"
  export CAMCLOUD_LAMBDA_PIP
}

# ensure_lambda_python: make $LAMBDA_PYTHON runnable (a pyenv version if need be), or return 1.
ensure_lambda_python() {
  if ! "$LAMBDA_PYTHON" -V >/dev/null 2>&1 && command -v pyenv >/dev/null 2>&1; then
    local wanted=${LAMBDA_PYTHON#python} version
    version=$(pyenv versions --bare 2>/dev/null | grep -E "^${wanted//./\\.}(\.[0-9]+)?$" | tail -n 1 || true)
    if [ -n "$version" ]; then
      # Keep the current default first, so python3 stays what it was.
      PYENV_VERSION="$(pyenv version-name 2>/dev/null | cut -d: -f1):$version"
      export PYENV_VERSION
    fi
  fi
  "$LAMBDA_PYTHON" -V >/dev/null 2>&1
}
