# `make test` is the one command CI runs: it builds the venv, installs what is missing, and runs lint, types
# and the whole suite against real PostgreSQL and Redis.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

NODE_CLIENTS := tests/clients/node
NODE_STAMP := $(NODE_CLIENTS)/node_modules/.package-lock.json

.PHONY: test lint demo bench eval install clean compat-table

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The Vercel AI SDK tests in tests/clients run on node, with exactly the packages of its lock file.
$(NODE_STAMP): $(NODE_CLIENTS)/package-lock.json
	cd $(NODE_CLIENTS) && npm ci --no-audit --no-fund --loglevel=error

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

test: lint $(NODE_STAMP)
	eval "$$(scripts/test-services.sh)" && $(VENV)/bin/pytest -q -p no:cacheprovider

demo: $(STAMP)
	$(VENV)/bin/asahi demo

# Speed and memory figures (docs/benchmarks.md). Loopback only; each run is bounded in time.
bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	test -x bench/.venv-litellm/bin/litellm || (python3 -m venv bench/.venv-litellm && \
		bench/.venv-litellm/bin/pip install -q 'litellm[proxy]==1.108.7')
	$(PY) bench/auth_speed.py
	$(PY) bench/routing_speed.py
	$(PY) bench/semantic_speed.py --write-docs
	$(PY) bench/gateway_bench.py --redis redis://127.0.0.1:6379/14

# Quality evaluations on the labelled data in ../shared/data (docs/semantic-cache.md, docs/routing.md).
eval: $(STAMP)
	$(PY) bench/semantic_eval.py --subsample 8000 --ablation --write-docs
	$(PY) bench/routing_eval.py

# The client × feature table of docs/compatibility.md, from the client tests (offline, on the simulator).
compat-table: $(STAMP) $(NODE_STAMP)
	ASAHI_COMPAT_TABLE=docs/compatibility.md $(VENV)/bin/pytest -q -p no:cacheprovider tests/clients

clean:
	rm -rf $(VENV) .asahi .mypy_cache .ruff_cache $(NODE_CLIENTS)/node_modules
