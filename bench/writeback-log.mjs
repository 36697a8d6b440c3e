#!/usr/bin/env node
// Write-back log append cost: the sealed segment format (engine/dist, AES-256-GCM per record)
// against the previous plaintext format (48-byte header + data, written inline here as it was).
// Built code only (`npx tsc -b` first). Prints MiB per CPU-second (robust on a busy machine)
// and wall MiB/s of append + one fsync, 4 KiB reads inside records, and replay of the segment.
// Usage: node bench/writeback-log.mjs [--mib 256] [--rounds 3]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { crc32 } from "node:zlib";
import { Keyring, writeBackLogKeys } from "../engine/dist/crypto/index.js";
import { Segment } from "../engine/dist/data/writeback/segment.js";

const { values } = parseArgs({
  options: { mib: { type: "string", default: "256" }, rounds: { type: "string", default: "3" } },
});
const MiB = 1024 * 1024;
const TOTAL = Number(values.mib) * MiB;
const ROUNDS = Number(values.rounds);
const keys = writeBackLogKeys(Keyring.generate());

/** The previous format's append: header + crc, two positional writes, no cipher. */
function plainAppend(state, ino, offset, data) {
  const h = Buffer.alloc(48);
  h.writeUInt32BE(0x46535742, 0);
  h[4] = 1;
  h.writeBigUInt64BE(BigInt(ino), 12);
  h.writeBigUInt64BE(BigInt(offset), 20);
  h.writeBigUInt64BE(BigInt(offset + data.length), 28);
  h.writeBigUInt64BE(BigInt(Date.now()), 36);
  h.writeUInt32BE(data.length, 44);
  h.writeUInt32BE(crc32(data, crc32(h.subarray(12))), 8);
  writeSync(state.fd, h, 0, 48, state.pos);
  writeSync(state.fd, data, 0, data.length, state.pos + 48);
  state.pos += 48 + data.length;
}

function run(format, recordBytes) {
  const best = { cpu: 0, wall: 0, reads: 0, replay: 0 };
  const data = Buffer.alloc(recordBytes, 7);
  for (let round = 0; round < ROUNDS; round++) {
    const dir = mkdtempSync(join(tmpdir(), "wb-log-bench-"));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let seg;
    const recs = [];
    if (format === "plaintext (before)") {
      const state = { fd: openSync(join(dir, "plain.log"), "wx+"), pos: 0 };
      for (let pos = 0; pos < TOTAL; pos += recordBytes) plainAppend(state, 1, pos, data);
      fdatasyncSync(state.fd);
      closeSync(state.fd);
    } else {
      seg = Segment.create(dir, 1, keys);
      for (let pos = 0; pos < TOTAL; pos += recordBytes)
        recs.push(seg.append("write", 1, pos, pos + recordBytes, Date.now(), data));
      seg.fsync();
    }
    const c = process.cpuUsage(c0);
    const t1 = performance.now();
    best.cpu = Math.max(best.cpu, TOTAL / MiB / ((c.user + c.system) / 1e6));
    best.wall = Math.max(best.wall, TOTAL / MiB / ((t1 - t0) / 1000));
    if (seg) {
      const len = Math.min(4096, recordBytes - 1000);
      for (const r of recs) seg.read(r, 1000, len);
      const t2 = performance.now();
      best.reads = Math.max(best.reads, recs.length / ((t2 - t1) / 1000));
      Segment.replay(dir, 1, seg.id, keys);
      best.replay = Math.max(best.replay, TOTAL / MiB / ((performance.now() - t2) / 1000));
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return best;
}

const rows = [];
for (const recordBytes of [4096, 128 * 1024, MiB]) {
  for (const format of ["plaintext (before)", "sealed"]) {
    const r = run(format, recordBytes);
    rows.push({
      record: `${recordBytes / 1024} KiB`,
      format,
      "append MiB/CPU-s": r.cpu.toFixed(0),
      "append+fsync MiB/s": r.wall.toFixed(0),
      "4 KiB reads/s": r.reads ? r.reads.toFixed(0) : "",
      "replay MiB/s": r.replay ? r.replay.toFixed(0) : "",
    });
  }
}
console.table(rows);
