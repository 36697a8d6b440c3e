#!/usr/bin/env node
// Metadata service benchmark against the built code (`npx tsc -b` first):
//  1. ops/s over gRPC on loopback — a `filespace meta serve` child on a file:// store (or
//     `--store=memory`), 1 and 16 concurrent clients (each its own MetaClient/channel, DEPTH
//     calls in flight each) doing create, getattr, readdirplus (1,000-entry pages), rename.
//     "coalesced" = the default client (Batch rpc, see engine/src/meta/grpc/coalesce.ts);
//     "one rpc per call" = `batch: false` (getattr uncoalesced too); "1 in flight" = sequential.
//     Each row also gives the server's and this process's CPU time per op (load-independent).
//  2. in process: build an N-inode tree through MetaService (durable journal on a memory store),
//     memory per inode, snapshot creation time, a checkpoint while a client keeps creating
//     (create latency during it) against the synchronous export, then recovery time.
// `--quick`: 100k inodes and 2 s per case; `--grpc-only`; `--inprocess-only`; `--depth=N`; `--pipeline=N`;
// `--profile=DIR` (CPU profile of the serve child). Record results in docs/benchmarks.md
// ("Metadata service"), with the load average the table prints.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
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
/** `--profile=DIR`: the serve child writes a V8 CPU profile there (node --cpu-prof). */
const PROFILE_DIR = process.argv.find((a) => a.startsWith("--profile="))?.slice(10);
/** `--store=memory`: the serve child keeps its journal in memory (separates store latency from service cost). */
/** `--pipeline=N`: rpcs in flight per client before calls coalesce (client default when omitted). */
const PIPELINE = process.argv.find((a) => a.startsWith("--pipeline="))?.slice(11);
const pipelineOptions = PIPELINE
  ? { batchPipeline: Number(PIPELINE), getattrPipeline: Number(PIPELINE), mutationPipeline: Number(PIPELINE) }
  : {};
const STORE = process.argv.find((a) => a.startsWith("--store="))?.slice(8) ?? "file";
const token = (scope, name) => createHash("sha256").update(`${scope}\0${name}`).digest();
const sealed = (scope, name) => ({ token: token(scope, name), sealed: Buffer.from(name) });
const results = [];
const loadStart = loadavg()
  .map((l) => l.toFixed(1))
  .join(" ");

// ---- 1. gRPC -------------------------------------------------------------------------------

async function startServe(dir, key) {
  writeFileSync(join(dir, "meta.key"), key.toString("base64"));
  const bin = new URL("../cli/bin/filespace.js", import.meta.url).pathname;
  const args = [
    ...(PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    bin,
    "meta",
    "serve",
    STORE === "memory" ? "memory://bench" : `file://${join(dir, "store")}`,
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

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Run `op(client, worker, i)` for SECONDS in `depth` loops per client (a mount dispatches many
 * kernel requests in parallel; sequential round trips are bounded by loopback latency and, on a
 * loaded machine, by scheduling delay); returns ops/s and the CPU time per op spent by the
 * server process and by this (client) process — the load-independent cost: 1e6 / server µs/op
 * is what one dedicated core would sustain.
 */
let serverPid = 0;
async function timed(clients, op, depth = DEPTH) {
  const until = performance.now() + SECONDS * 1000;
  let count = 0;
  const srv0 = cpuSeconds(serverPid);
  const cli0 = process.cpuUsage();
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
  const rate = (count * 1000) / (performance.now() - t0);
  const cli = process.cpuUsage(cli0);
  const serverUs = ((cpuSeconds(serverPid) - srv0) * 1e6) / count;
  return { rate, serverUs, clientUs: (cli.user + cli.system) / count };
}

/** A table row: case, ops/s, goal, mean calls per rpc, server/client CPU µs per op. */
function row(label, r, goal, callsPerRpc, perOp = "") {
  const measured = perOp ? `${num(r.rate)} (${perOp})` : num(r.rate);
  results.push([label, measured, goal, callsPerRpc, num(r.serverUs), num(r.clientUs)]);
}

const mean = (clients) => {
  const st = clients.reduce((t, c) => ({ rpcs: t.rpcs + c.batchStats.rpcs, calls: t.calls + c.batchStats.calls }), {
    rpcs: 0,
    calls: 0,
  });
  return st.rpcs ? (st.calls / st.rpcs).toFixed(1) : "-";
};

async function grpcBench() {
  const dir = mkdtempSync(join(tmpdir(), "fs-bench-meta-"));
  const key = randomBytes(32);
  const { child, address } = await startServe(dir, key);
  serverPid = child.pid;
  const ctx = { token: issueToken(deriveAccessTokenKey(key), { client: "bench", mode: "rw", subtreeRoot: ROOT }) };
  const createIn = (c, parent, id, name) =>
    c.create(ctx, { requestId: id, parent, name: sealed(parent, name), mode: 0o644, uid: 0, gid: 0 });
  try {
    for (const n of [1, 16]) {
      // Default clients coalesce concurrent calls (Batch rpc); `single` clients send one rpc per call.
      const clients = Array.from({ length: n }, () => new MetaClient({ address, ...pipelineOptions }));
      const single = Array.from({ length: n }, () => new MetaClient({ address, batch: false, getattrPipeline: 1e9 }));
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
        made[w].push((await createIn(c, ino(w), `c${n}-${w}-${i}`, `f${i}`)).attr.ino);
      });
      const createBatch = mean(clients);
      const create1 = await timed(single, (c, w, i) => createIn(c, ino(w), `s${n}-${w}-${i}`, `s${i}`), 1);
      const createSingle = await timed(single, (c, w, i) => createIn(c, ino(w), `u${n}-${w}-${i}`, `u${i}`));
      const pick = (w, i) => made[w][i % made[w].length];
      const getattr = await timed(clients, (c, w, i) => c.getattr(ctx, { inos: [pick(w, i)] }));
      const getattrSingle = await timed(single, (c, w, i) => c.getattr(ctx, { inos: [pick(w, i)] }));
      const getattr1 = await timed(single, (c, w, i) => c.getattr(ctx, { inos: [pick(w, i)] }), 1);
      const big = dirs[0].attr.ino;
      const readdir = await timed(clients, (c) => c.readdirplus(ctx, { ino: big, limit: 1000 }));
      const before = mean(clients);
      const rename = await timed(clients, (c, w, i) =>
        c.rename(ctx, {
          requestId: `r${n}-${w}-${i}`,
          parent: ino(w),
          name: token(ino(w), `${Math.floor(i / DEPTH) % 2 ? "g" : "f"}${i % DEPTH}`),
          newParent: ino(w),
          newName: sealed(ino(w), `${Math.floor(i / DEPTH) % 2 ? "f" : "g"}${i % DEPTH}`),
        }),
      );
      const goal = (g) => (n === 1 ? "" : g);
      row(`create, ${n} client(s), coalesced`, create, goal("≥ 5,000"), createBatch);
      row(`create, ${n} client(s), one rpc per call`, createSingle, "", "1");
      row(`create, ${n} client(s), 1 in flight each`, create1, "", "1");
      row(`getattr, ${n} client(s), coalesced`, getattr, goal("≥ 20,000"), "getattr batch");
      row(`getattr, ${n} client(s), one rpc per call`, getattrSingle, "", "1");
      row(`getattr, ${n} client(s), 1 in flight each`, getattr1, "", "1");
      row(`readdirplus 1,000-entry page, ${n} client(s)`, readdir, "", before, `${num(readdir.rate * 1000)} entries/s`);
      row(`rename, ${n} client(s), coalesced`, rename, "", "");
      for (const c of [...clients, ...single]) c.close();
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
  // Several samples: one may land on a major GC of the ~650 MB heap.
  const snapshotSamples = [];
  for (let k = 0; k < 7; k++) {
    const s0 = performance.now();
    await service.createSnapshot(ctx, { requestId: `snap${k}`, name: `bench${k}` });
    snapshotSamples.push(performance.now() - s0);
  }
  snapshotSamples.sort((a, b) => a - b);
  // Checkpoint while a client keeps creating files: how long does one create wait at worst?
  const latencies = [];
  let checkpointDone = false;
  const c0 = performance.now();
  const checkpoint = durable.journal.checkpoint().finally(() => {
    checkpointDone = true;
  });
  const probe = (async () => {
    const dir = await service.mkdir(ctx, {
      requestId: "probe",
      parent: ROOT,
      name: sealed(ROOT, "probe"),
      mode: 0o755,
      uid: 0,
      gid: 0,
    });
    for (let i = 0; !checkpointDone; i++) {
      const t = performance.now();
      await service.create(ctx, {
        requestId: `p${i}`,
        parent: dir.attr.ino,
        name: sealed(dir.attr.ino, `p${i}`),
        mode: 0o644,
        uid: 0,
        gid: 0,
      });
      latencies.push(performance.now() - t);
      await new Promise((r) => setImmediate(r)); // calls arrive through I/O, not one promise chain
    }
  })();
  await checkpoint;
  const checkpointS = (performance.now() - c0) / 1000;
  await probe;
  // The previous path: one synchronous export, during which nothing else runs.
  const x0 = performance.now();
  durable.machine.captureImage()();
  const syncExportS = (performance.now() - x0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  await service.close();
  await durable.journal.close(); // writes the checkpoint (the probe's creates)
  await durable.lease.release();
  const rec = await timeRecovery({ ...opts, lease: { takeover: true } });
  results.push([
    `build ${num(INODES)} inodes in process`,
    `${buildS.toFixed(1)} s (${num(INODES / buildS)}/s)`,
    "",
    "",
  ]);
  results.push(["memory per inode (heap)", `${num(bytesPerInode)} B`, "", "", "", ""]);
  results.push([
    `checkpoint of ${num(INODES)} inodes while creating`,
    `${checkpointS.toFixed(1)} s (a synchronous export blocks ${syncExportS.toFixed(1)} s); create latency p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(0)} ms (${latencies.length} creates)`,
    "",
    "",
    "",
    "",
  ]);
  results.push([
    `snapshot create, ${num(INODES)}-inode tree`,
    `median ${snapshotSamples[3].toFixed(1)} ms, max ${snapshotSamples[6].toFixed(1)} ms (7 samples)`,
    "< 100 ms",
    "",
    "",
    "",
  ]);
  results.push([
    `recovery, ${num(INODES)} inodes`,
    `${(rec.totalMs / 1000).toFixed(2)} s (checkpoint ${(rec.checkpointMs / 1000).toFixed(2)} s, replay ${rec.recordsReplayed} rec)`,
    "< 10 s (1M)",
    "",
    "",
    "",
  ]);
}

if (!process.argv.includes("--inprocess-only")) await grpcBench();
if (!process.argv.includes("--grpc-only")) await inProcessBench();
console.log(
  `\nMetadata service (${quick ? "quick" : "full"}; ${SECONDS} s per gRPC case, ${DEPTH} calls in flight per client, ${STORE} store; load average ${loadStart} at start, ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} at end)\n`,
);
console.log(
  textTable(
    ["case", "measured (ops/s unless stated)", "goal", "calls/rpc", "server CPU µs/op", "client CPU µs/op"],
    results,
  ),
);
