# `make test` is the one command CI runs: it builds the venv, installs what is missing, and runs lint, types
# and the whole suite against real PostgreSQL and Redis.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

NODE_CLIENTS := tests/clients/node
NODE_STAMP := $(NODE_CLIENTS)/node_modules/.package-lock.json

.PHONY: test lint demo bench eval install clean dashboard dashboard-check screenshots browser haproxy jq image compat-table

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The web dashboard (web/, Next.js): built as a static export into the package folder asahi/dashboard/, which
# `asahi serve` serves at /dashboard/. Rebuilt only when a file under web/ changed; dependencies come from the
# lock file. Needs Node.js >= 20.9 and npm at build time only.
WEB_SOURCES := $(shell find web -type f -not -path 'web/node_modules/*' -not -path 'web/.next*' \
	-not -path 'web/out/*' -not -name 'tsconfig.tsbuildinfo' -not -name 'next-env.d.ts' 2>/dev/null)
WEB_DEPS := web/node_modules/.ci-stamp
DASHBOARD := src/asahi/dashboard
NEXT_BUILD := NEXT_TELEMETRY_DISABLED=1 npx --no-install next build

$(WEB_DEPS): web/package-lock.json
	@command -v npm >/dev/null || { echo "make: the dashboard needs Node.js >= 20.9 and npm"; exit 1; }
	cd web && npm ci --no-audit --no-fund
	touch $@

$(DASHBOARD)/index.html: $(WEB_DEPS) $(WEB_SOURCES)
	cd web && npx --no-install eslint . --max-warnings 0
	cd web && NEXT_BASE_PATH=/dashboard NEXT_PUBLIC_API_URL= $(NEXT_BUILD)
	rm -rf $(DASHBOARD)
	cp -r web/out $(DASHBOARD)

dashboard: $(DASHBOARD)/index.html

# A deployment on its own: NEXT_PUBLIC_API_URL set at build time must be what the static site calls.
web/.next-check/index.html: $(WEB_DEPS) $(WEB_SOURCES)
	cd web && NEXT_PUBLIC_API_URL=https://api.example.com NEXT_DIST_DIR=.next-check NEXT_BASE_PATH= $(NEXT_BUILD)

dashboard-check: web/.next-check/index.html

# Debian's Chromium for the browser tests (never a browser download).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# Debian's HAProxy for the fleet test (tests/deploy/test_fleet.py): three instances behind a real load balancer.
haproxy:
	command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy)

# The container image (Dockerfile), with docker where a daemon answers, else podman. Without a reachable registry,
# make the base images first with deploy/local-base-images.sh; in a sandbox that cannot start containers, build
# with IMAGE_FLAGS="--format docker --isolation=chroot".
IMAGE_FLAGS ?= --format docker
image:
	if docker info >/dev/null 2>&1; then docker build -t asahi:0.1.0 .; \
	else podman build $(IMAGE_FLAGS) -t asahi:0.1.0 .; fi

# jq, which the README's walk-through uses (tests/docs/test_readme.py runs it).
jq:
	command -v jq >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq)

# Screenshots of every page at 1280x800 for docs/dashboard/, taken by the browser tests.
screenshots: $(STAMP) dashboard browser
	ASAHI_DASHBOARD_SCREENSHOTS=docs/dashboard $(VENV)/bin/pytest -q -p no:cacheprovider tests/web

# The Vercel AI SDK tests in tests/clients run on node, with exactly the packages of its lock file.
$(NODE_STAMP): $(NODE_CLIENTS)/package-lock.json
	cd $(NODE_CLIENTS) && npm ci --no-audit --no-fund --loglevel=error

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

test: lint dashboard dashboard-check browser haproxy jq $(NODE_STAMP)
	eval "$$(scripts/test-services.sh)" && $(VENV)/bin/pytest -q -p no:cacheprovider

demo: $(STAMP) dashboard
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
