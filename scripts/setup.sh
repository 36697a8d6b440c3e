#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian 12 machine: system packages, npm dependencies, build.
set -euo pipefail
cd "$(dirname "$0")/.."

# FUSE (libfuse3 for the native binding, libfuse2 for the fuse-native fallback), the real
# services tests start (nats-server), and the real tools the mount is tested and
# benchmarked with.
PACKAGES=(fuse3 libfuse2 libfuse3-dev pkg-config python3 util-linux nats-server rsync sqlite3 fio git s3fs rclone dbench stress-ng)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm ci` installs exactly the lockfile. Older lockfiles lacked some foreign-platform
  # optional packages (this registry answers 404 for a few, npm/cli#7961 family) and `npm ci`
  # refused them as out of sync; `npm install` of the same locked versions stays as the fallback.
  if ! npm ci --no-audit --no-fund; then
    echo "setup: npm ci refused the lockfile (foreign-platform optional packages missing); using npm install" >&2
    npm install --no-audit --no-fund
  fi
fi
npm run build
