#!/usr/bin/env bash
# Quick start: install what is missing, then run the service with its embedded defaults
# (SQLite in ./.cachestore, engines as local processes on 127.77.0.0/16, API on 127.0.0.1:8080).
# `npm start` compiles only when a source is newer than dist/ (scripts/build-if-stale.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec npm start
