#!/usr/bin/env node
/**
 * Reads files through a mount, from its own process (a mount's server must never do I/O on
 * it). Sequential 1 MiB reads, one at a time, like `dd bs=1M of=/dev/null`; per file it reports
 * the time to first byte, total time and bytes. `--hash` instead reports each file's SHA-256
 * (one untimed pass), so results are verified.
 *
 * Why two separate runs: hashing inside the timed read cost the reader ~5 % of a 2-core
 * machine's CPU during the read (perf, session 11) — a tax on every file system that the raw
 * line's client (curl to /dev/null) does not pay. The harness hashes after it has stopped the
 * clock and the egress meter; the bytes hashed are still the mount's (page cache or mount).
 *
 *   read.mjs [--bytes N] FILE…   → one JSON line: { files: [{ file, ms, openMs, firstByteMs, bytes }] }
 *   read.mjs --hash FILE…        → one JSON line: { files: [{ file, bytes, sha256 }] }
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";

const args = process.argv.slice(2);
let hash = false;
let limit = Number.POSITIVE_INFINITY;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--hash") hash = true;
  else if (args[i] === "--bytes") limit = Number(args[++i]);
  else files.push(args[i]);
}
const buf = Buffer.allocUnsafe(1024 * 1024);

/** Reads up to `limit` bytes of `file` in 1 MiB pieces; `onData` sees each piece. */
async function readFile(file, onData) {
  const start = performance.now();
  const fh = await open(file, "r");
  const openMs = performance.now() - start;
  let bytes = 0;
  let firstByteMs;
  try {
    while (bytes < limit) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, limit - bytes), bytes);
      if (bytesRead === 0) break;
      firstByteMs ??= performance.now() - start;
      onData?.(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { file, ms: performance.now() - start, openMs, firstByteMs, bytes };
}

const out = [];
for (const file of files) {
  if (!hash) {
    out.push(await readFile(file));
    continue;
  }
  const h = createHash("sha256");
  const { bytes } = await readFile(file, (piece) => h.update(piece));
  out.push({ file, bytes, sha256: h.digest("hex") });
}
process.stdout.write(`${JSON.stringify({ files: out })}\n`);
