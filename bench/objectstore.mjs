#!/usr/bin/env node
// Object-store throughput and latency against the built engine (`npm run bench:objectstore`
// builds first). Per backend (file, memory, s3rver, azurite), bare and behind the latency
// wrapper (25 ms each way): 4 MiB put/get throughput with 1 and 8 in flight, and 4 KiB
// range-get latency p50/p99. Starts and stops its own s3rver and azurite.
//   --quick      smoke run (few objects, a few seconds per backend)
//   --markdown   also print the table as Markdown (for docs/benchmarks.md)
//   --only=a,b   run only these backends
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openObjectStore, withLatency } from "../engine/dist/object/index.js";
import { startAzurite, startS3rver } from "./lib/object-services.mjs";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
const MiB = 1024 * 1024;
const OBJECT = 4 * MiB;
const RANGE = 4096;
const LATENCY = { requestMs: 25, responseMs: 25 };
const plan = quick ? { c1: 3, c8: 8, ranges: 10, rangesWan: 5 } : { c1: 12, c8: 32, ranges: 200, rangesWan: 60 };

const stops = [];
const cleanup = async () => {
  while (stops.length)
    await stops
      .pop()()
      .catch((e) => console.error("cleanup:", e.message));
};
for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => cleanup().finally(() => process.exit(130)));

const backends = {
  memory: async () => ({ url: `memory://bench-${process.pid}`, options: {} }),
  file: async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "bench-file-"));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    return { url: `file://${dir}`, options: {} };
  },
  s3rver: async () => {
    const s = await startS3rver();
    stops.push(s.stop);
    return s;
  },
  azurite: async () => {
    const a = await startAzurite();
    stops.push(a.stop);
    return a;
  },
};

/** Runs `count` calls of `fn(i)` with `width` in flight; returns MiB/s of `bytesEach`. */
async function throughput(count, width, bytesEach, fn) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < count; i = next++) await fn(i);
    }),
  );
  return (count * bytesEach) / MiB / ((performance.now() - started) / 1000);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function measure(store, tag, wan) {
  const body = randomBytes(OBJECT);
  const key = (i, w) => `${tag}/obj-${w}-${i}`;
  const row = {};
  row.put1 = await throughput(plan.c1, 1, OBJECT, (i) => store.put(key(i, 1), body));
  row.put8 = await throughput(plan.c8, 8, OBJECT, (i) => store.put(key(i, 8), body));
  row.get1 = await throughput(plan.c1, 1, OBJECT, (i) => store.get(key(i, 1)));
  row.get8 = await throughput(plan.c8, 8, OBJECT, (i) => store.get(key(i, 8)));
  const samples = [];
  const n = wan ? plan.rangesWan : plan.ranges;
  for (let i = 0; i < n; i++) {
    const offset = Math.floor(Math.random() * (OBJECT - RANGE));
    const started = performance.now();
    const got = await store.get(key(i % plan.c8, 8), { range: { offset, length: RANGE } });
    samples.push(performance.now() - started);
    if (got.length !== RANGE) throw new Error(`range get returned ${got.length} bytes`);
  }
  samples.sort((a, b) => a - b);
  row.p50 = percentile(samples, 50);
  row.p99 = percentile(samples, 99);
  row.samples = n;
  return row;
}

const fmt = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const headers = ["backend", "link", "put 1×", "put 8×", "get 1×", "get 8×", "4K get p50", "4K get p99"];
const rows = [];
const started = performance.now();
try {
  for (const [name, open] of Object.entries(backends)) {
    if (only && !only.includes(name)) continue;
    const { url, options } = await open();
    const bare = await openObjectStore(url, options);
    for (const wan of [false, true]) {
      const store = wan ? withLatency(bare, LATENCY) : bare;
      const r = await measure(store, `${wan ? "wan" : "lan"}`, wan);
      rows.push([
        name,
        wan ? "+25/25 ms" : "direct",
        ...[r.put1, r.put8, r.get1, r.get8].map((v) => `${fmt(v)} MiB/s`),
        `${fmt(r.p50)} ms`,
        `${fmt(r.p99)} ms${r.samples < 100 ? ` (n=${r.samples})` : ""}`,
      ]);
      console.error(`done: ${name} ${wan ? "wan" : "direct"} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
    await bare.close();
  }
} finally {
  await cleanup();
}

const widths = headers.map((_, i) => Math.max(...[headers, ...rows].map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(`object stores: ${OBJECT / MiB} MiB objects, ${RANGE / 1024} KiB ranges${quick ? " (quick)" : ""}`);
console.log([line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n"));
if (args.includes("--markdown")) {
  console.log(`\n| ${headers.join(" | ")} |\n|${headers.map((_, i) => (i < 2 ? " --- " : " ---: ")).join("|")}|`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}
console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
