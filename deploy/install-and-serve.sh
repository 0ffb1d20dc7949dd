#!/bin/sh
# The steps the container image runs, in one place so the image and CI cannot drift apart:
#
#   install-and-serve.sh install WHEEL VENV   install the built wheel (and its dependencies) into a new venv VENV
#   install-and-serve.sh serve VENV           bring the database to the latest schema, then serve on $PORT
#
# The Dockerfile runs `install` at build time and `serve` as its command; tests/deploy/test_wheel.py runs both
# from an empty directory. `serve` reads everything else from the environment (DATABASE_URL, REDIS_URL,
# ASAHI_ENCRYPTION_KEY, PORT, HOST ...), exactly as `asahi serve` does.
set -eu

usage() {
  echo "usage: $0 install WHEEL VENV | serve VENV" >&2
  exit 2
}

[ $# -ge 2 ] || usage
command=$1
shift
case "$command" in
  install)
    [ $# -eq 2 ] || usage
    wheel=$1
    venv=$2
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$wheel"
    "$venv/bin/asahi" --help >/dev/null
    ;;
  serve)
    [ $# -eq 1 ] || usage
    venv=$1
    # Migrations also run at start-up (safely when instances start together); running them first makes a
    # failing migration a failed deploy with its own message, before the port is taken.
    "$venv/bin/asahi" migrate
    exec "$venv/bin/asahi" serve
    ;;
  *)
    usage
    ;;
esac
