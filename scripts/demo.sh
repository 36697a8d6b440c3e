#!/usr/bin/env bash
# The main job on the embedded default: a local-directory filespace, created, mounted (with
# the metadata service embedded in the mount), written and read through the kernel, its
# statistics shown, and unmounted after every upload is committed. Non-interactive.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

DEMO=${FILESPACE_DEMO_DIR:-$PWD/.tmp/demo}
STORE="file://$DEMO/store"
MNT="$DEMO/mnt"
mkdir -p "$DEMO/store" "$MNT"
export FILESPACE_PASSPHRASE=${FILESPACE_PASSPHRASE:-demo-passphrase-change-me}

fs() { node cli/bin/filespace.js "$@"; }

if ! fs info "$STORE" >/dev/null 2>&1; then
  fs init "$STORE"
fi
fs info "$STORE"

# A mount left behind by an interrupted run: unmount it first.
if mountpoint -q "$MNT"; then fs unmount "$MNT" || umount -l "$MNT" || true; fi
fs mount "$STORE" "$MNT" --daemon --cache-dir "$DEMO/cache" --cache-size 1GiB
trap 'fs unmount "$MNT" >/dev/null 2>&1 || true' EXIT

echo "hello from a filespace ($(date -u +%FT%TZ))" > "$MNT/hello.txt"
head -c 8388608 /dev/urandom > "$DEMO/sample.bin"
cp "$DEMO/sample.bin" "$MNT/sample.bin"
cat "$MNT/hello.txt"
cmp "$DEMO/sample.bin" "$MNT/sample.bin" && echo "sample.bin read back through the mount: identical"
ls -l "$MNT"
fs stats "$MNT"
fs unmount "$MNT"
trap - EXIT
echo "the store holds only ciphertext: $(find "$DEMO/store" -type f | wc -l) objects under $DEMO/store"
