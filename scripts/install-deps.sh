#!/usr/bin/env bash
# Installs what Cache Store needs and is missing: the engines from Debian's packages (Redis OSS
# from bookworm, Valkey 8 from bookworm-backports), nftables, the tools to build the one native
# npm module, PostgreSQL for the tests, and the npm dependencies. Packages come from Debian's
# archive and the npm registry only. Idempotent.
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

# The console's browser test (test/e2e/console.test.ts) drives Debian's headless Chromium with
# playwright-core (an npm devDependency that downloads no browser of its own).
if [ -n "$(missing chromium)" ]; then
  apt_update
  $SUDO apt-get install -y -qq chromium
fi

# The tests' store runs on PostgreSQL too: the test run uses 127.0.0.1:5432 if a server answers
# there, else starts a private one with these binaries (test/support/test-postgres.ts).
if [ -n "$(missing postgresql)" ]; then
  apt_update
  $SUDO apt-get install -y -qq postgresql
fi

# better-sqlite3 (the embedded store) is a native module. Its install fetches a prebuilt binary
# from GitHub's release downloads, not from the npm registry; where that host cannot be reached
# it compiles from source with node-gyp: a C++ compiler, make and python3 ...
build_missing=$(missing g++ make python3)
if [ -n "$build_missing" ]; then
  apt_update
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq $build_missing
fi
# ... and Node's headers: those of the Node installed here, or node-gyp downloads them from
# nodejs.org (Node's own tarballs and the NodeSource/Debian packages ship them in include/node).
node_bin=$(command -v node || true)
if [ -z "$node_bin" ]; then echo "install-deps: Node.js 20 or later is needed (node is not on PATH)" >&2; exit 1; fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then echo "install-deps: Node.js 20 or later is needed, this is $(node --version)" >&2; exit 1; fi
node_prefix=$(dirname "$(dirname "$(readlink -f "$node_bin")")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
