#!/usr/bin/env node
/**
 * Reads files through a mount, from its own process (a mount's server must never do I/O on
 * it). Sequential 1 MiB reads, one at a time, like `dd bs=1M`; per file it reports the time
 * to first byte, total time, bytes and (with --hash) SHA-256 so results are verified.
 *
 *   read.mjs [--hash] [--bytes N] FILE…   → one JSON line: { files: [{ file, ms, openMs, firstByteMs, bytes, sha256 }] }
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
const out = [];
for (const file of files) {
  const start = performance.now();
  const fh = await open(file, "r");
  const openMs = performance.now() - start;
  const h = hash ? createHash("sha256") : undefined;
  let bytes = 0;
  let firstByteMs;
  try {
    while (bytes < limit) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, limit - bytes), bytes);
      if (bytesRead === 0) break;
      firstByteMs ??= performance.now() - start;
      h?.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await fh.close();
  }
  out.push({ file, ms: performance.now() - start, openMs, firstByteMs, bytes, sha256: h?.digest("hex") });
}
process.stdout.write(`${JSON.stringify({ files: out })}\n`);
