# podgate: the two commands a new user needs are `make dev` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# The functions run on python3.13 (template.yaml), so the dev venv does too. pyenv installs
# versions side by side; its shim for python3.13 only works when that version is active.
PYTHON_BOOT ?= $(shell for p in $$(ls -d $$HOME/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null) $$(command -v python3.13); do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo "$$p"; break; }; done)
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/podgate/requirements.txt | cksum | cut -d' ' -f1)

export PYTHONPATH := $(CURDIR)/layers/podgate:$(CURDIR)/local
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv dev test lint invoke admin reconcile loadtest openapi bench

help:
	@echo "make dev      run the whole API locally on http://127.0.0.1:$${PODGATE_PORT:-3000}"
	@echo "make test     lint the template and code, then run the test suite"
	@echo "make invoke FN=HealthFunction EVENT=events/health.json   invoke one function with a fixture"
	@echo "make admin ARGS='--local add-user alice --role user'     manage users of the running make dev (see README)"
	@echo "make reconcile / make loadtest / make openapi / make bench   operations and measurements"
	@echo "make build / make validate / make test-sam                   sam build, sam validate --lint, real sam local"

$(STAMP):
	@test -n "$(PYTHON_BOOT)" || { echo "python3.13 not found (pyenv install 3.13 or set PYTHON_BOOT)"; exit 1; }
	rm -rf $(VENV)
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(STAMP)

dev: venv
	$(PY) -m podgate_local dev

lint: venv validate
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest

invoke: venv
	$(PY) -m podgate_local invoke $(FN) $(EVENT)

admin: venv
	$(PY) -m podgate.admin $(ARGS)

# The reconciler, by hand, against the running `make dev` (or a throwaway stack).
reconcile: venv
	$(PY) -m podgate_local invoke ReconcileFunction events/reconcile.json

loadtest: venv
	$(PY) bench/loadtest.py $(ARGS)

# Cold starts, warm overhead, the local stack and the layer (docs/PERFORMANCE.md): a table and bench/results.json.
bench: venv
	PYTHON_BOOT=$(PYTHON_BOOT) $(PY) bench/bench.py $(ARGS)

# The OpenAPI document (podgate/openapi.py) from template.yaml and the models; commit the result.
openapi: venv
	$(PY) -m podgate_local.docs

# SAM CLI (docs/DEPLOY-LOCAL-SAM.md). tools/sam.sh installs the pinned SAM CLI into $(SAM_VENV)
# on first use. `make build ARCH=x86_64` for local SAM runs on x86 machines; deploy arm64.
ARCH ?= arm64
SAM_BUILD_DIR ?= .aws-sam/build
export SAM_CLI_VERSION ?= 1.170.0
export SAM_VENV ?= $(CURDIR)/.venv-sam

.PHONY: build validate test-sam

build:
	@case "$(ARCH)" in arm64|x86_64) ;; *) echo "ARCH must be arm64 or x86_64, not '$(ARCH)'"; exit 2;; esac
	PODGATE_ARCHITECTURE=$(ARCH) PYTHON_BOOT=$(PYTHON_BOOT) tools/sam.sh build --no-cached \
		--build-dir $(SAM_BUILD_DIR) --parameter-overrides Architecture=$(ARCH)
	$(or $(PYTHON_BOOT),python3) tools/check_layer.py --build-dir $(SAM_BUILD_DIR) --architecture $(ARCH)

validate:
	PYTHON_BOOT=$(PYTHON_BOOT) tools/sam.sh validate --lint

# Real `sam local` in Docker (needs root and ../shared/tools/sam-local-setup.sh); not part of `make test`.
test-sam: venv
	$(PY) tests/sam/run_sam_local.py
