#!/usr/bin/env bash
# Installs Cache Store as a systemd service that starts at boot: builds it, places the unit
# (packaging/cachestore.service) with this checkout's paths, creates the service user and its
# data dir, and enables the unit. It starts nothing unless --now is given.
#
#   sudo scripts/install-service.sh [--user cachestore] [--data-dir /var/lib/cachestore] [--now]
#   sudo scripts/install-service.sh --print    # only prints the unit it would install
set -euo pipefail
cd "$(dirname "$0")/.."
APP_DIR="$(pwd)"
SERVICE_USER=cachestore
DATA_DIR=/var/lib/cachestore
NOW=0
PRINT=0
while [ $# -gt 0 ]; do
  case "$1" in
    --user) SERVICE_USER="$2"; shift 2 ;;
    --data-dir) DATA_DIR="$2"; shift 2 ;;
    --now) NOW=1; shift ;;
    --print) PRINT=1; shift ;;
    *) echo "usage: $0 [--user NAME] [--data-dir DIR] [--now] [--print]" >&2; exit 2 ;;
  esac
done
NODE="$(command -v node || true)"
[ -n "$NODE" ] || { echo "node is not on PATH; install Node 20 first (scripts/install-deps.sh)" >&2; exit 1; }

unit() {
  sed -e "s#@USER@#${SERVICE_USER}#g" -e "s#@APP_DIR@#${APP_DIR}#g" -e "s#@DATA_DIR@#${DATA_DIR}#g" -e "s#@NODE@#${NODE}#g" packaging/cachestore.service
}
if [ "$PRINT" = 1 ]; then unit; exit 0; fi

[ "$(id -u)" = 0 ] || { echo "run as root (it writes /etc/systemd/system and creates a user)" >&2; exit 1; }
command -v systemctl >/dev/null || { echo "systemctl not found: this machine does not run systemd" >&2; exit 1; }

[ -f dist/main.js ] || npm run build
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
  useradd --system --home-dir "$DATA_DIR" --shell /usr/sbin/nologin "$SERVICE_USER"
fi
install -d -m 700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA_DIR"
install -d -m 755 /etc/cachestore
# Keys and other settings go here (mode 600: it may hold secrets); kept when it exists.
[ -f /etc/cachestore/cachestore.env ] || install -m 600 /dev/null /etc/cachestore/cachestore.env
unit > /etc/systemd/system/cachestore.service
chmod 644 /etc/systemd/system/cachestore.service
systemctl daemon-reload
systemctl enable cachestore.service
if [ "$NOW" = 1 ]; then
  systemctl start cachestore.service
  echo "cachestore.service is enabled and started (journalctl -u cachestore for its log)"
else
  echo "cachestore.service is enabled: it starts at the next boot, or now with: systemctl start cachestore"
fi
