#!/usr/bin/env node
// Crypto throughput on one core, against the built engine (run `npx tsc -b` first, or
// `npm run bench:crypto`). Prints a table; record the numbers in docs/benchmarks.md ("Crypto").
import { createCipheriv, randomBytes } from "node:crypto";
import {
  ChunkCodec,
  createKeySlot,
  DEFAULT_SCRYPT,
  Keyring,
  NameSealer,
  newChunkId,
  openKeySlot,
} from "../engine/dist/crypto/index.js";

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;
const keyring = Keyring.generate();
const rows = [];

/** Runs fn repeatedly for at least `ms` milliseconds (after one warm-up) and returns ops/s. */
function rate(fn, ms = 1500) {
  fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    fn();
    n++;
  }
  return (n * 1000) / (performance.now() - start);
}

const random = randomBytes(CHUNK);
// Baseline: one AES-256-GCM call over the whole 4 MiB (no blocks, no framing); the codec rows
// are judged as a ratio of this, which stays meaningful on a busy machine.
const rawKey = randomBytes(32);
const raw =
  rate(() => {
    const c = createCipheriv("aes-256-gcm", rawKey, randomBytes(12));
    c.update(random);
    c.final();
  }) * 4;
rows.push(["raw AES-256-GCM, one 4 MiB call", `seal ${raw.toFixed(0)} MiB/s`, "", "", ""]);
for (const blockSize of [16 * 1024, 64 * 1024, 256 * 1024]) {
  const codec = new ChunkCodec(keyring, { blockSize });
  const id = newChunkId();
  const sealed = codec.seal(id, random);
  const seal = rate(() => codec.seal(id, random)) * 4;
  const open = rate(() => codec.open(id, sealed)) * 4;
  // A 64 KiB read at a random offset: map to sealed blocks, open them, slice.
  const range = rate(() => {
    const off = Math.floor(Math.random() * (CHUNK - 65536));
    const r = codec.sealedRange(off, 65536);
    codec.openRange(id, sealed.subarray(r.offset, r.offset + r.length), r.firstBlock);
  });
  const overhead = ((sealed.length - CHUNK) / CHUNK) * 100;
  rows.push([
    `4 MiB chunk, ${blockSize / 1024} KiB blocks`,
    `seal ${seal.toFixed(0)} MiB/s (${((seal / raw) * 100).toFixed(0)} % of raw)`,
    `open ${open.toFixed(0)} MiB/s (${((open / raw) * 100).toFixed(0)} % of raw)`,
    `64 KiB range open ${range.toFixed(0)}/s`,
    `overhead ${overhead.toFixed(3)} %`,
  ]);
}

const text = Buffer.from(
  "the quick brown fox jumps over the lazy dog 0123456789\n".repeat(Math.ceil(CHUNK / 56)),
).subarray(0, CHUNK);
{
  const codec = new ChunkCodec(keyring);
  const id = newChunkId();
  const sealed = codec.seal(id, text, { compress: true });
  const seal = rate(() => codec.seal(id, text, { compress: true })) * 4;
  const open = rate(() => codec.open(id, sealed)) * 4;
  rows.push([
    "4 MiB text, compressed",
    `seal ${seal.toFixed(0)} MiB/s`,
    `open ${open.toFixed(0)} MiB/s`,
    "(whole chunk only)",
    `stored ${((sealed.length / CHUNK) * 100).toFixed(1)} %`,
  ]);
}

const sealer = new NameSealer(keyring);
const name = "frame_000123.exr";
const sealedName = sealer.sealName(name);
let parent = 0n;
rows.push([
  "names",
  `token ${(rate(() => sealer.lookupToken(parent++, name)) / 1000).toFixed(0)} k/s`,
  `seal ${(rate(() => sealer.sealName(name)) / 1000).toFixed(0)} k/s`,
  `open ${(rate(() => sealer.openName(sealedName)) / 1000).toFixed(0)} k/s`,
  "",
]);

const FS = "00000000-0000-4000-8000-000000000000";
const slot = await createKeySlot({ kind: "passphrase", passphrase: "benchmark passphrase" }, keyring, FS);
const times = [];
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  await openKeySlot(slot, { passphrase: "benchmark passphrase" }, FS);
  times.push(performance.now() - t);
}
rows.push([
  `unlock, scrypt N=2^${Math.log2(DEFAULT_SCRYPT.N)} r=${DEFAULT_SCRYPT.r} p=${DEFAULT_SCRYPT.p}`,
  `${Math.min(...times).toFixed(0)} ms (best of 3)`,
  `${(times.reduce((a, b) => a + b) / times.length).toFixed(0)} ms (mean)`,
  "",
  "",
]);

const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const row of rows)
  console.log(
    row
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd(),
  );
