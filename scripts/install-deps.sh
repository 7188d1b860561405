#!/usr/bin/env bash
# Installs what Cache Store needs and is missing: the engines from Debian's packages (Redis OSS
# from bookworm, Valkey 8 from bookworm-backports) and the npm dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

missing() { for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done; }

updated=""
apt_update() { [ -n "$updated" ] || { $SUDO apt-get update -qq; updated=1; }; }

redis_missing=$(missing redis-server redis-sentinel redis-tools)
if [ -n "$redis_missing" ]; then
  apt_update
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq $redis_missing
fi

valkey_missing=$(missing valkey-server valkey-sentinel valkey-tools)
if [ -n "$valkey_missing" ]; then
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Reuse the mirror this machine already uses for bookworm.
    mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | head -n 1 | awk '{print $2}')
    [ -n "$mirror" ] || mirror=$(grep -hsE '^deb .* bookworm main' /etc/apt/sources.list | head -n 1 | awk '{print $2}')
    [ -n "$mirror" ] || { echo "install-deps: cannot find this machine's Debian mirror to add bookworm-backports" >&2; exit 1; }
    echo "deb $mirror bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    updated=""
  fi
  apt_update
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq -t bookworm-backports $valkey_missing
fi

# Allow-lists are enforced with nftables (README "Allow-lists"); without nft they are only recorded.
if [ -n "$(missing nftables)" ]; then
  apt_update
  $SUDO apt-get install -y -qq nftables
fi

# Data volumes (README "Data volumes"): a sparse file per data node holding an XFS filesystem,
# loop-mounted (mount, losetup from util-linux/mount) and grown online with xfs_growfs; without
# these the service records block storage sizes only. fallocate (util-linux) fills a test's disk.
vol_missing=$(missing xfsprogs util-linux mount)
if [ -n "$vol_missing" ]; then
  apt_update
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq $vol_missing
fi

# The test of the systemd unit (packaging/) runs systemd's own verifier.
if ! command -v systemd-analyze >/dev/null; then
  apt_update
  $SUDO apt-get install -y -qq systemd
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
