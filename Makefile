# The two commands: `make run` (local stack) and `make test` (every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` installs what the stack needs (.[local], scripts/install-run.sh);
# `make test` adds [dev] (pytest, Playwright, mypy, cfn-lint, ...), ~5x the download.
RUN_STAMP := $(VENV)/.installed-local
STAMP := $(VENV)/.installed-dev

.PHONY: run test test-python test-firmware test-template test-host test-fresh system-deps lint bench deploy clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "camcloud needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || \
	  { echo "$(PYTHON) cannot make a virtualenv: on Debian, apt-get install python3-venv"; exit 1; }
	@echo "camcloud: creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)

# The venv (if missing) and .[local], with uv: seconds on a warm cache, a line per step.
$(RUN_STAMP): pyproject.toml scripts/install-run.sh scripts/get-uv.py scripts/link-checkout.py
	@bash scripts/install-run.sh $(PYTHON) $(VENV)
	@touch $(RUN_STAMP)

# [dev] on top of `make run`'s install, with the same uv (scripts/install-run.sh pins it;
# scripts/get-uv.py keeps it in the user's cache): ~15 s, where pip took 10-20 minutes on a fresh
# clone of this shared machine (one index round trip per package). pip if there is no uv or it
# fails (an index only pip is set up for).
UV_VERSION = $(shell sed -n 's/^uv_version=//p' scripts/install-run.sh)
$(STAMP): pyproject.toml $(RUN_STAMP)
	@echo "camcloud: installing the test tools (.[dev]: pytest, Playwright, mypy, cfn-lint, ...)"
	@uv=$$(command -v uv || $(PYTHON) scripts/get-uv.py $(UV_VERSION) || true); \
	if [ -z "$$uv" ] || ! "$$uv" pip install -q --python $(BIN)/python -r pyproject.toml --extra dev; then \
	  echo "camcloud: installing with pip instead (pip install -e '.[dev]'; many minutes)"; \
	  $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'; \
	fi
	touch $(STAMP)

## run: start the local stack (S3+SQS in moto, worker, ingest + gallery on :8080; PORT= to move)
run: $(RUN_STAMP)
	@echo "camcloud: starting the local stack (a first start also compiles its modules)"
	$(BIN)/python -m camcloud_cli local

## test: install what the tests need, then run every suite
# The firmware before the Python suite: its end-to-end tests then find camcloud-uploader built.
test: system-deps $(STAMP)
	$(MAKE) lint
	$(MAKE) test-firmware
	$(MAKE) test-python
	$(MAKE) test-template

system-deps:
	bash scripts/system-deps.sh

# pytest-xdist: one worker per CPU (PYTEST_WORKERS=0: none); --dist loadscope keeps a module's
# tests in one worker, so its module-scoped stack, moto server or Chromium starts once.
PYTEST_WORKERS ?= auto
test-python: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope

# FIRMWARE_DEPS (the real arduino-esp32 and Arducam_Mega; .ci/run sets it) adds the emulator
# tests against the real driver and the real-header check; unset, PlatformIO's copies are used
# when a `pio run` fetched them, else each says in one line that it did not run.
test-firmware:
	cmake -S firmware -B build/firmware -DCMAKE_BUILD_TYPE=Debug
	cmake --build build/firmware -j2
	ctest --test-dir build/firmware --output-on-failure
	bash firmware/scripts/check-real-headers.sh

test-template: $(STAMP)
	bash scripts/test-template.sh

## test-host: the ingest host's setup for real in a Debian bookworm container (root; a few minutes)
test-host: system-deps $(STAMP)
	bash scripts/test-host.sh

## test-fresh: the two commands on a fresh Debian 12 root (root, debootstrap; tens of minutes)
test-fresh: system-deps
	bash scripts/test-fresh.sh

## deploy: sam build + release, sam deploy (--guided the first time); IMAGE=latest moves to a new Ubuntu image
deploy: $(STAMP)
	IMAGE=$(IMAGE) bash deploy/deploy.sh

lint: $(STAMP)
	$(BIN)/ruff check camcloud camcloud_cli ingest gallery lambdas tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/thumbnail.py
	$(BIN)/python bench/gallery.py
	$(BIN)/python bench/ingest.py
	bash bench/firmware_heap.sh

clean:
	rm -rf $(VENV) build .aws-sam .camcloud .venv-checkov .venv-lock
