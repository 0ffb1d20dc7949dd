# syntax=docker/dockerfile:1
# The gateway as one image: the dashboard built in a Node stage, the wheel in a Python stage, and a slim final
# stage that only installs that wheel (no compilers, no source tree, no Node) and runs as a non-root user.
# The install and start steps are deploy/install-and-serve.sh, the same script CI runs (tests/deploy).

FROM node:20-bookworm-slim AS dashboard
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
# Served by the API itself at /dashboard/, calling the API on its own origin.
RUN NEXT_TELEMETRY_DISABLED=1 NEXT_BASE_PATH=/dashboard NEXT_PUBLIC_API_URL='' npx --no-install next build

FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ src/
COPY --from=dashboard /src/web/out/ src/asahi/dashboard/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim-bookworm
# Binary wheels only: a dependency that would need compiling fails the build instead of pulling in a compiler.
ENV ASAHI_IN_CONTAINER=1 \
    ASAHI_DATA_DIR=/var/lib/asahi \
    PORT=8000 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ONLY_BINARY=:all: \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/asahi --create-home --shell /usr/sbin/nologin asahi
COPY deploy/install-and-serve.sh /usr/local/bin/asahi-container
COPY --from=wheel /dist/ /tmp/dist/
RUN asahi-container install /tmp/dist/asahi-*.whl /opt/asahi && rm -rf /tmp/dist
ENV PATH=/opt/asahi/bin:$PATH
USER 10001:10001
WORKDIR /var/lib/asahi
# The ledger spool (rows not yet in PostgreSQL) and, without DATABASE_URL, the SQLite database live here.
VOLUME ["/var/lib/asahi"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '8000'), timeout=2)"]
CMD ["asahi-container", "serve", "/opt/asahi"]
