#!/usr/bin/env bash
# `make test-template`: everything about deploying that can be checked offline.
#  1. cfn-lint, `sam validate --lint` and checkov on template.yaml (checkov in .venv-checkov:
#     it pins boto3 and packaging to versions camcloud's tests cannot use; every accepted
#     finding is skipped in the template with its reason);
#  2. shellcheck on the deploy scripts, systemd-analyze verify on the units, nginx -t on
#     both proxy sites;
#  3. `sam build` (SAM CLI in .venv-sam; BuildMethod: makefile, so no local python3.13) for
#     arm64, what `make deploy` ships, and for x86_64, what this machine can import: the two
#     at once (each mostly waits on pip's downloads), each building its functions in parallel;
#  4. the x86_64 artifacts, imported from the build directory, process events/ samples
#     against moto (tests/lambda_build, in .venv-lambda: the runtime's Python version when
#     python3.13 is here; otherwise a build for the local Python with the same pins, and the
#     script says so: the 3.13 wheels themselves are then built but not imported).
# The three tool virtualenvs (.venv-sam, .venv-checkov, .venv-lambda) are made first, at once,
# with uv when there is one (deploy/sam-env.sh's tool_venv): with pip, one after the other,
# they took ~10 of this script's ~15 minutes on a fresh clone.
# The tests on the SAM-translated template (tests/template) run with the rest of pytest in
# `make test-python`; they need no build.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/sam-env.sh
. deploy/sam-env.sh

step() { printf '\n== %s\n' "$*"; }
# Tools that warn without failing: any output at all is a failure here.
quiet_or_fail() {
  local output
  output=$("$@" 2>&1) || { echo "$output"; return 1; }
  if [ -n "$output" ]; then
    echo "$output"
    return 1
  fi
}

if ensure_lambda_python; then
  import_python=$LAMBDA_PYTHON
  import_version=3.13
else
  import_python=${PYTHON:-python3}
  import_version=$("$import_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

checkov_requirement='checkov==3.3.30'
ensure_checkov() {
  if [ "$(cat .venv-checkov/.requirement 2>/dev/null)" != "$checkov_requirement" ]; then
    echo "installing $checkov_requirement into .venv-checkov"
    tool_venv .venv-checkov "${PYTHON:-python3}" "$checkov_requirement"
    echo "$checkov_requirement" >.venv-checkov/.requirement
  fi
}
lambda_venv=.venv-lambda
lambda_requirements=("boto3>=1.34,<2" "moto[s3,ssm,sqs,sns]>=5.0.20,<6" "pytest>=8,<10"
  "pytest-timeout>=2.3,<3")
lambda_stamp="python$import_version ${lambda_requirements[*]}"
ensure_lambda_venv() {
  if [ "$(cat "$lambda_venv/.requirements" 2>/dev/null)" != "$lambda_stamp" ]; then
    echo "installing the import test's packages into $lambda_venv (Python $import_version)"
    tool_venv "$lambda_venv" "$import_python" "${lambda_requirements[@]}"
    echo "$lambda_stamp" >"$lambda_venv/.requirements"
  fi
}

# at_once NAME COMMAND...: start COMMAND in the background, its output kept for `joined`.
declare -A started=()
at_once() {
  local name=$1
  shift
  (set -e; "$@") >"$root/$name.log" 2>&1 &
  started[$name]=$!
}
# joined NAME...: wait for those at_once jobs; print each one's output; fail if any failed.
joined() {
  local name failed=0
  for name in "$@"; do
    if ! wait "${started[$name]}"; then
      echo "-- $name FAILED:"
      failed=1
    fi
    cat "$root/$name.log"
  done
  return "$failed"
}

# check_release: the release artifact (deploy/make-release.sh) holds what the host needs, and
# the wheel the host installs serves both units' apps.
check_release() {
  bash deploy/make-release.sh
  mkdir -p "$root/release"
  tar -xzf dist/camcloud-release.tar.gz -C "$root/release"
  for file in VERSION SHA256SUMS requirements.lock deploy/bootstrap.sh deploy/camcloud-update.sh \
    deploy/render-proxy.sh deploy/hostctl.py deploy/camcloud-proxy.sh deploy/gunicorn.conf.py \
    deploy/systemd/camcloud-ingest.service deploy/systemd/camcloud-gallery.service; do
    [ -f "$root/release/release/$file" ] || { echo "release lacks $file"; return 1; }
  done
  (cd "$root/release/release" && sha256sum --quiet -c SHA256SUMS)
  python3 -m venv "$root/host-venv"
  # As the host installs it: the locked dependencies by hash, then camcloud alone.
  "$root/host-venv/bin/python" -m pip install -q --require-hashes --only-binary=:all: \
    -r "$root/release/release/requirements.lock"
  "$root/host-venv/bin/python" -m pip install -q --no-deps --no-index "$root"/release/release/camcloud-*.whl
  mkdir -p "$root/spool"
  for app in ingest.wsgi:app gallery.wsgi:app; do
    # From an empty directory, so the app comes from the wheel, not this checkout; the units'
    # own command line, with --check-config: load the app and the config, then exit.
    (cd "$root/spool" && CAMCLOUD_BUCKET=camcloud-check CAMCLOUD_SECRET_KEY=check \
      CAMCLOUD_SPOOL_DIR="$root/spool" "$root/host-venv/bin/gunicorn" --check-config \
      --config "$root/release/release/deploy/gunicorn.conf.py" --bind 127.0.0.1:0 "$app")
    echo "$app: loads from the wheel"
  done
}

step "tool virtualenvs (SAM CLI, checkov, the import test's), at once"
at_once sam-venv ensure_sam
at_once checkov-venv ensure_checkov
at_once lambda-venv ensure_lambda_venv
joined sam-venv checkov-venv lambda-venv
# The release check mostly waits on pip's downloads (the host's locked dependencies, by
# hash): started now, it runs beside the CPU-bound checks below; its output comes at the end.
at_once release check_release
ensure_sam # installed above: sets SAM and the pip the functions' builds use

step "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml

step "sam validate --lint"
"$SAM" validate --lint --region us-east-1

step "checkov template.yaml (offline)"
# --skip-download: no call to the vendor's platform; the checks ship with the package.
.venv-checkov/bin/checkov --file template.yaml --framework cloudformation --skip-download \
  --compact --quiet --output cli 2>&1 | grep -v '^$' | tee "$root/checkov.txt"
grep -q "Failed checks: 0," "$root/checkov.txt"

step "shellcheck deploy scripts"
shellcheck -x deploy/*.sh deploy/sam-env.sh scripts/test-template.sh scripts/test-host.sh \
  scripts/test-fresh.sh

step "systemd-analyze verify deploy/systemd/*"
# A throwaway root: the host's stock units, the camcloud units, and stand-ins for the
# executables the bootstrap installs, so verify checks the units and nothing else.
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp deploy/systemd/* "$root/etc/systemd/system/"
for executable in /opt/camcloud/current/venv/bin/gunicorn /usr/local/sbin/camcloud-update \
  /usr/local/lib/camcloud/camcloud-drain /usr/bin/python3; do
  install -D -m 0755 /dev/null "$root$executable"
done
quiet_or_fail systemd-analyze verify --root="$root" "$root"/etc/systemd/system/camcloud-*
echo "units verified: $(cd deploy/systemd && echo *)"

step "nginx -t on the rendered proxy sites"
for mode in http https; do
  site="$root/nginx-$mode"
  mkdir -p "$site"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=cam.example.org \
    -keyout "$site/privkey.pem" -out "$site/fullchain.pem" 2>/dev/null
  CAMCLOUD_DOMAIN=cam.example.org PROXY_CERT_DIR="$site" PROXY_HTTP_LISTEN=127.0.0.1:18080 \
    PROXY_HTTPS_LISTEN=127.0.0.1:18443 PROXY_HTTP_UPLOADS=true deploy/render-proxy.sh "$mode" \
    >"$site/camcloud.conf"
  cat >"$site/nginx.conf" <<NGINX
pid $site/nginx.pid;
error_log stderr;
events {}
http {
    include $site/camcloud.conf;
}
NGINX
  nginx -t -q -e stderr -p "$site" -c "$site/nginx.conf"
  echo "$mode site: ok"
done

step "sam build: arm64 (as deployed) and x86_64 (for the import test), at once"
if [ "$import_version" != 3.13 ]; then
  echo "no $LAMBDA_PYTHON here: the x86_64 build takes the wheels for Python $import_version"
  echo "(same requirements), so $import_python can import it; the arm64 build is 3.13's."
fi
# Each build in a directory of its own: sam keeps its build graph (build.toml) beside it.
test_build=.aws-sam/x86_64/build
at_once sam-build-arm64 "$SAM" build --parallel
at_once sam-build-x86_64 env CAMCLOUD_LAMBDA_ARCH=x86_64 \
  CAMCLOUD_LAMBDA_PYTHON_VERSION="$import_version" "$SAM" build --parallel \
  --build-dir "$test_build" --parameter-overrides ThumbnailerArchitecture=x86_64
joined sam-build-arm64 sam-build-x86_64

step "the built functions (thumbnailer, time-lapse, alerts) against moto"
CAMCLOUD_LAMBDA_BUILD_DIR=$test_build "$lambda_venv/bin/python" -m pytest \
  tests/lambda_build --confcutdir=tests/lambda_build -p no:cacheprovider

step "release artifact: the wheel the host installs serves both units' apps"
joined release
