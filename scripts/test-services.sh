#!/usr/bin/env bash
# Make sure a PostgreSQL and a Redis server answer for the test suite, and print their URLs as shell exports.
# Uses the servers on 127.0.0.1:5432 (database `test`) and 127.0.0.1:6379 when they answer; otherwise installs
# the Debian packages where missing and starts throwaway servers on free ports under a temporary directory.
set -euo pipefail

log() { echo "test-services: $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then log "need root to install $*"; exit 1; fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

pg_url="${ASAHI_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
redis_url="${ASAHI_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"

pg_answers() { command -v psql >/dev/null && psql "$1" -qtAc 'select 1' >/dev/null 2>&1; }

if ! pg_answers "$pg_url"; then
  command -v pg_ctlcluster >/dev/null 2>&1 || [ -x /usr/lib/postgresql/15/bin/initdb ] || apt_install postgresql
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  dir=$(mktemp -d /tmp/asahi-pg.XXXXXX)
  chown postgres "$dir" 2>/dev/null || true
  port=$(free_port)
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
  as_pg "$bin/pg_ctl" -D "$dir/data" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -l "$dir/log" -w start >/dev/null
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test
  pg_url="postgresql://postgres@127.0.0.1:$port/test"
  log "started a throwaway PostgreSQL on port $port"
fi

redis_answers() { command -v redis-cli >/dev/null && [ "$(redis-cli -u "$1" ping 2>/dev/null)" = PONG ]; }

if ! redis_answers "$redis_url"; then
  command -v redis-server >/dev/null || apt_install redis-server
  port=$(free_port)
  dir=$(mktemp -d /tmp/asahi-redis.XXXXXX)
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" \
    --logfile "$dir/log" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis_url="redis://127.0.0.1:$port/15"
  log "started a throwaway Redis on port $port"
fi

echo "export ASAHI_TEST_POSTGRES_URL='$pg_url'"
echo "export ASAHI_TEST_REDIS_URL='$redis_url'"
