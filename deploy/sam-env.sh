# Sourced by scripts/test-template.sh and deploy/deploy.sh: the SAM CLI in its own virtualenv
# (it pins boto3 and click below what camcloud uses). The functions build with BuildMethod:
# makefile (deploy/lambda-function.mk): pip fetches the runtime's (CPython 3.13) wheels from
# any Python, so no local python3.13 is needed.
# shellcheck shell=bash

SAM_VENV=${SAM_VENV:-.venv-sam}
SAM_REQUIREMENT='aws-sam-cli>=1.140,<2'
LAMBDA_PYTHON=python3.13 # template.yaml's Runtime; only the import test uses it, when present
export SAM_CLI_TELEMETRY=0

# tool_venv VENV PYTHON REQUIREMENT...: make VENV a fresh virtualenv of PYTHON holding the
# requirements. With uv (on PATH, else the pinned one `make run`'s install keeps in the user's
# cache: scripts/get-uv.py) it takes seconds: pip resolves one package at a time, an index
# round trip each, and took ~3 min for the SAM CLI alone. Without uv, or if uv fails (say, an
# index only pip is set up for), pip installs the same requirements.
tool_venv() {
  local venv=$1 python=$2 uv
  shift 2
  uv=$(command -v uv || "${PYTHON:-python3}" scripts/get-uv.py \
    "$(sed -n 's/^uv_version=//p' scripts/install-run.sh)" || true)
  rm -rf "$venv"
  if [ -n "$uv" ]; then
    # uv reads its own settings, not pip's: carry over an index given to pip.
    local settings=()
    if [ -n "${PIP_INDEX_URL:-}" ]; then settings+=("UV_INDEX_URL=${UV_INDEX_URL:-$PIP_INDEX_URL}"); fi
    if [ -n "${PIP_EXTRA_INDEX_URL:-}" ]; then
      settings+=("UV_EXTRA_INDEX_URL=${UV_EXTRA_INDEX_URL:-$PIP_EXTRA_INDEX_URL}")
    fi
    if env "${settings[@]}" "$uv" venv -q --python "$python" "$venv" &&
      env "${settings[@]}" "$uv" pip install -q --python "$venv/bin/python" "$@"; then
      return 0
    fi
    echo "uv could not install $* into $venv: installing with pip"
    rm -rf "$venv"
  fi
  "$python" -m venv "$venv"
  # --no-compile: no byte-compiling of every file of every package; imports compile what runs.
  "$venv/bin/python" -m pip install -q --no-compile --disable-pip-version-check "$@"
}

# ensure_sam: create or reuse $SAM_VENV with the SAM CLI; sets SAM to its executable.
ensure_sam() {
  if [ ! -x "$SAM_VENV/bin/sam" ] || [ "$(cat "$SAM_VENV/.requirement" 2>/dev/null)" != "$SAM_REQUIREMENT" ]; then
    echo "installing $SAM_REQUIREMENT into $SAM_VENV"
    # pip too: deploy/lambda-function.mk fetches the functions' wheels with this venv's pip.
    tool_venv "$SAM_VENV" "${PYTHON:-python3}" "$SAM_REQUIREMENT" pip
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
