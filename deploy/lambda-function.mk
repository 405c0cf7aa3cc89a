# Included by lambdas/<function>/Makefile: `sam build` (BuildMethod: makefile) runs
# `make build-<LogicalId>` with ARTIFACTS_DIR set. The function's wheels are fetched for the
# Lambda runtime (CPython 3.13, manylinux, the function's architecture) whatever Python runs
# pip here, so building needs no local python3.13: Debian 12's 3.11 does.
#   CAMCLOUD_LAMBDA_ARCH             arm64 (as deployed) or x86_64
#   CAMCLOUD_LAMBDA_PYTHON_VERSION   3.13 (the runtime); scripts/test-template.sh sets the local
#                                    version for the import test when python3.13 is absent
#   CAMCLOUD_LAMBDA_PIP              the pip to run (deploy/sam-env.sh: the SAM CLI's venv)
# The source is found from the including Makefile's real path (sam runs it by that path).
SOURCE := $(abspath $(dir $(abspath $(firstword $(MAKEFILE_LIST)))))
CAMCLOUD_LAMBDA_ARCH ?= arm64
CAMCLOUD_LAMBDA_PYTHON_VERSION ?= 3.13
CAMCLOUD_LAMBDA_PIP ?= python3 -m pip
# pip names arm64 aarch64; manylinux_2_34 is the runtime's glibc (Amazon Linux 2023), and the
# older tags are listed too because pip does not widen a custom platform to older glibcs.
WHEEL_ARCH := $(if $(filter arm64 aarch64,$(CAMCLOUD_LAMBDA_ARCH)),aarch64,x86_64)
PLATFORMS := $(foreach tag,manylinux_2_34 manylinux_2_28 manylinux2014,--platform $(tag)_$(WHEEL_ARCH))

build-%:
	$(CAMCLOUD_LAMBDA_PIP) install --quiet --disable-pip-version-check --no-compile \
	  $(PLATFORMS) --python-version $(CAMCLOUD_LAMBDA_PYTHON_VERSION) --implementation cp \
	  --only-binary=:all: --target "$(ARTIFACTS_DIR)" -r "$(SOURCE)/requirements.txt"
	cd "$(SOURCE)" && find . -name '*.py' -not -path '*/__pycache__/*' \
	  -exec install -D -m 0644 {} "$(ARTIFACTS_DIR)/{}" \;
