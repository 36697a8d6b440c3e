#!/usr/bin/env node
// Recovery time of the metadata durability layer (checkpoint + journal replay from the object
// store), against the built engine (`npx tsc -b` first). A synthetic machine isolates the layer
// from namespace image decoding; bench/meta measures the namespace itself with timeRecovery().
// Record results in docs/benchmarks.md ("Metadata durability: recovery").
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchmarkRecovery } from "../engine/dist/meta/durable/index.js";
import { FileObjectStore } from "../engine/dist/object/index.js";

const MiB = 1024 * 1024;
const quick = process.argv.includes("--quick");
const cases = quick
  ? [{ store: "memory", imageBytes: 16 * MiB, tailRecords: 20_000 }]
  : [
      { store: "memory", imageBytes: 64 * MiB, tailRecords: 100_000 },
      { store: "memory", imageBytes: 256 * MiB, tailRecords: 10_000 },
      { store: "memory", imageBytes: 1 * MiB, tailRecords: 1_000_000 },
      { store: "file", imageBytes: 64 * MiB, tailRecords: 100_000 },
      { store: "file+cache", imageBytes: 64 * MiB, tailRecords: 100_000 },
    ];
const rows = [];
for (const c of cases) {
  const dir = c.store === "memory" ? undefined : mkdtempSync(join(tmpdir(), "fs-bench-recovery-"));
  try {
    const r = await benchmarkRecovery({
      imageBytes: c.imageBytes,
      tailRecords: c.tailRecords,
      recordBytes: 200,
      ...(dir ? { store: new FileObjectStore(join(dir, "store")) } : {}),
      ...(c.store === "file+cache" ? { cacheDir: join(dir, "cache") } : {}),
    });
    rows.push({
      store: c.store,
      image: `${c.imageBytes / MiB} MiB`,
      records: c.tailRecords,
      "recovery s": (r.totalMs / 1000).toFixed(2),
      "checkpoint s": (r.checkpointMs / 1000).toFixed(2),
      "segments s": (r.segmentsMs / 1000).toFixed(2),
      "replay s": (r.replayMs / 1000).toFixed(2),
      segments: r.segments,
      "append rec/s": Math.round((c.tailRecords * 1000) / r.appendMs),
    });
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
console.table(rows);
