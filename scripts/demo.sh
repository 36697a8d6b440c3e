#!/usr/bin/env bash
# The main job on the embedded default: a local-directory filespace, created and used.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

DEMO=${FILESPACE_DEMO_DIR:-$PWD/.tmp/demo}
STORE="file://$DEMO/store"
mkdir -p "$DEMO/store" "$DEMO/mnt"
export FILESPACE_PASSPHRASE=${FILESPACE_PASSPHRASE:-demo-passphrase-change-me}

fs() { node cli/bin/filespace.js "$@"; }

if ! fs info "$STORE" >/dev/null 2>&1; then
  fs init "$STORE"
fi
fs info "$STORE"
