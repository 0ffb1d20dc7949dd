#!/bin/sh
# Stand-ins for the Dockerfile's base images, for a machine that reaches Debian's mirrors but no container
# registry: a minimal Debian 12 root made with debootstrap, tagged as python:3.11-slim-bookworm (Debian 12's
# Python is 3.11), and the same root plus this machine's Node.js (the one `make dashboard` uses, >= 20.9), tagged
# as node:20-bookworm-slim. The machine's CA bundle goes in both, so npm and pip work behind a TLS-inspecting
# proxy. Then `make image` builds the real Dockerfile on them. Needs root, debootstrap and podman.
set -eu

work=$(mktemp -d /tmp/asahi-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/python"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip bookworm "$root" \
  http://deb.debian.org/debian >"$work/debootstrap.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"

tag_root() {
  tar -C "$1" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    - "$2" >/dev/null
  echo "tagged $2"
}

tag_root "$root" docker.io/library/python:3.11-slim-bookworm

node=$(command -v node)
modules=$(dirname "$(readlink -f "$(command -v npm)")")/../..  # .../lib/node_modules
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules"
cp "$(readlink -f "$node")" "$root/usr/local/bin/node"
cp -a "$modules/npm" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chroot "$root" node --version >/dev/null
tag_root "$root" docker.io/library/node:20-bookworm-slim
