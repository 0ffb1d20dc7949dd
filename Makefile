# `make test` is the one command CI runs: it builds the venv, installs what is missing, and runs lint, types
# and the whole suite against real PostgreSQL and Redis.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test lint demo bench eval install clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

test: lint
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

clean:
	rm -rf $(VENV) .asahi .mypy_cache .ruff_cache
