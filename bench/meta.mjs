#!/usr/bin/env node
// Metadata service benchmark against the built code (`npx tsc -b` first):
//  1. ops/s over gRPC on loopback — a `filespace meta serve` child on a file:// store, 1 and 16
//     concurrent clients (each its own MetaClient/channel) doing create, getattr, readdirplus
//     (1,000-entry pages), rename;
//  2. in process: build an N-inode tree through MetaService (durable journal on a memory store),
//     memory per inode, snapshot creation time, then recovery time of that filespace.
// `--quick`: 100k inodes and 2 s per case. Record results in docs/benchmarks.md ("Metadata service").
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { AtRestCipher } from "../engine/dist/crypto/atrest.js";
import { issueToken } from "../engine/dist/meta/access/token.js";
import { openDurableMeta, timeRecovery } from "../engine/dist/meta/durable/index.js";
import { deriveAccessTokenKey, MetaClient } from "../engine/dist/meta/grpc/index.js";
import { Namespace } from "../engine/dist/meta/namespace/machine.js";
import { MetaService } from "../engine/dist/meta/service/service.js";
import { MemoryObjectStore } from "../engine/dist/object/index.js";
import { num, textTable } from "./lib/table.mjs";

const quick = process.argv.includes("--quick");
const SECONDS = quick ? 2 : 5;
const INODES = quick ? 100_000 : 1_000_000;
const ROOT = 1;
const DEPTH = Number(process.argv.find((a) => a.startsWith("--depth="))?.slice(8) ?? 16);
const token = (scope, name) => createHash("sha256").update(`${scope}\0${name}`).digest();
const sealed = (scope, name) => ({ token: token(scope, name), sealed: Buffer.from(name) });
const results = [];

// ---- 1. gRPC -------------------------------------------------------------------------------

async function startServe(dir, key) {
  writeFileSync(join(dir, "meta.key"), key.toString("base64"));
  const bin = new URL("../cli/bin/filespace.js", import.meta.url).pathname;
  const args = [
    bin,
    "meta",
    "serve",
    `file://${join(dir, "store")}`,
    "--listen",
    "127.0.0.1:0",
    "--meta-key-file",
    join(dir, "meta.key"),
  ];
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const address = await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`meta serve exited ${code}: ${out}`)));
  });
  return { child, address };
}

/**
 * Run `op(client, worker, i)` for SECONDS in `depth` loops per client (a mount dispatches many
 * kernel requests in parallel; sequential round trips are bounded by loopback latency, which is
 * ≈ 3 ms for plain node:http2 on these machines); returns ops/s.
 */
async function timed(clients, op, depth = DEPTH) {
  const until = performance.now() + SECONDS * 1000;
  let count = 0;
  const t0 = performance.now();
  await Promise.all(
    clients.flatMap((c, w) =>
      Array.from({ length: depth }, async (_, lane) => {
        for (let i = lane; performance.now() < until; i += depth) {
          await op(c, w, i);
          count++;
        }
      }),
    ),
  );
  return (count * 1000) / (performance.now() - t0);
}

async function grpcBench() {
  const dir = mkdtempSync(join(tmpdir(), "fs-bench-meta-"));
  const key = randomBytes(32);
  const { child, address } = await startServe(dir, key);
  const ctx = { token: issueToken(deriveAccessTokenKey(key), { client: "bench", mode: "rw", subtreeRoot: ROOT }) };
  try {
    for (const n of [1, 16]) {
      const clients = Array.from({ length: n }, () => new MetaClient({ address }));
      const dirs = await Promise.all(
        clients.map((c, w) =>
          c.mkdir(ctx, {
            requestId: `d${n}-${w}`,
            parent: ROOT,
            name: sealed(ROOT, `c${n}-${w}`),
            mode: 0o755,
            uid: 0,
            gid: 0,
          }),
        ),
      );
      const ino = (w) => dirs[w].attr.ino;
      const made = clients.map(() => []);
      const create = await timed(clients, async (c, w, i) => {
        const r = await c.create(ctx, {
          requestId: `c${n}-${w}-${i}`,
          parent: ino(w),
          name: sealed(ino(w), `f${i}`),
          mode: 0o644,
          uid: 0,
          gid: 0,
        });
        made[w].push(r.attr.ino);
      });
      const getattr = await timed(clients, (c, w, i) => c.getattr(ctx, { inos: [made[w][i % made[w].length]] }));
      const getattr1 = await timed(clients, (c, w, i) => c.getattr(ctx, { inos: [made[w][i % made[w].length]] }), 1);
      const big = dirs[0].attr.ino;
      const readdir = await timed(clients, (c) => c.readdirplus(ctx, { ino: big, limit: 1000 }));
      const rename = await timed(clients, (c, w, i) =>
        c.rename(ctx, {
          requestId: `r${n}-${w}-${i}`,
          parent: ino(w),
          name: token(ino(w), `${Math.floor(i / DEPTH) % 2 ? "g" : "f"}${i % DEPTH}`),
          newParent: ino(w),
          newName: sealed(ino(w), `${Math.floor(i / DEPTH) % 2 ? "f" : "g"}${i % DEPTH}`),
        }),
      );
      results.push([`create, ${n} client(s)`, num(create), n === 1 ? "" : "≥ 5,000"]);
      results.push([`getattr, ${n} client(s)`, num(getattr), n === 1 ? "" : "≥ 20,000"]);
      results.push([`getattr, ${n} client(s), 1 in flight each`, num(getattr1), ""]);
      results.push([
        `readdirplus 1,000-entry page, ${n} client(s)`,
        `${num(readdir)} (${num(readdir * 1000)} entries/s)`,
        "",
      ]);
      results.push([`rename, ${n} client(s)`, num(rename), ""]);
      for (const c of clients) c.close();
    }
  } finally {
    process.kill(-child.pid, "SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 2. in process: memory per inode, snapshot, recovery -------------------------------------

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

async function inProcessBench() {
  const store = new MemoryObjectStore("bench");
  const cipher = new AtRestCipher(randomBytes(32));
  const restore = (image) => (image ? Namespace.importImage(image) : new Namespace());
  const opts = { store, cipher, restore, checkpointEveryRecords: 10_000_000, checkpointIntervalMs: 0 };
  const durable = await openDurableMeta(opts);
  const tokenKey = randomBytes(32);
  const service = new MetaService({ journal: durable.journal, tokenKey, namespace: durable.machine, schedule: [] });
  const ctx = { token: issueToken(tokenKey, { client: "bench", mode: "admin", subtreeRoot: ROOT }) };
  const before = heap();
  const perDir = 1000;
  const t0 = performance.now();
  for (let d = 0; d * perDir < INODES; d++) {
    const dir = await service.mkdir(ctx, {
      requestId: `d${d}`,
      parent: ROOT,
      name: sealed(ROOT, `d${d}`),
      mode: 0o755,
      uid: 0,
      gid: 0,
    });
    const pending = [];
    for (let f = 1; f < perDir; f++) {
      pending.push(
        service.create(ctx, {
          requestId: `f${d}-${f}`,
          parent: dir.attr.ino,
          name: sealed(dir.attr.ino, `f${f}`),
          mode: 0o644,
          uid: 0,
          gid: 0,
        }),
      );
    }
    await Promise.all(pending);
  }
  const buildS = (performance.now() - t0) / 1000;
  const bytesPerInode = (heap() - before) / INODES;
  const s0 = performance.now();
  await service.createSnapshot(ctx, { requestId: "snap", name: "bench" });
  const snapshotMs = performance.now() - s0;
  await service.close();
  await durable.journal.close(); // writes the checkpoint
  await durable.lease.release();
  const rec = await timeRecovery({ ...opts, lease: { takeover: true } });
  results.push([`build ${num(INODES)} inodes in process`, `${buildS.toFixed(1)} s (${num(INODES / buildS)}/s)`, ""]);
  results.push(["memory per inode (heap)", `${num(bytesPerInode)} B`, ""]);
  results.push([`snapshot create, ${num(INODES)}-inode tree`, `${snapshotMs.toFixed(1)} ms`, "< 100 ms"]);
  results.push([
    `recovery, ${num(INODES)} inodes`,
    `${(rec.totalMs / 1000).toFixed(2)} s (checkpoint ${(rec.checkpointMs / 1000).toFixed(2)} s, replay ${rec.recordsReplayed} rec)`,
    "< 10 s (1M)",
  ]);
}

await grpcBench();
if (!process.argv.includes("--grpc-only")) await inProcessBench();
console.log(
  `\nMetadata service (${quick ? "quick" : "full"}; ${SECONDS} s per gRPC case, ${DEPTH} calls in flight per client)\n`,
);
console.log(textTable(["case", "measured (ops/s unless stated)", "goal"], results));
