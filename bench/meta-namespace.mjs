// In-process namespace benchmark (no transport, no journal I/O): what the metadata service's
// own hot paths cost, separately from gRPC and durability (bench/meta.mjs measures those).
//
//   npx tsc -b && node --expose-gc bench/meta-namespace.mjs [--inodes=1000000] [--ops=100000]
//
// 1. MetaService per-op rates with a no-op journal: create, getattr, readdirplus, rename.
// 2. Namespace at --inodes files (1,000 per directory): heap per inode, snapshot creation,
//    checkpoint image export and import (what recovery spends before replay).
// Times are wall clock and CPU (user+system) so a loaded machine can be told apart.
import { createHash, randomBytes } from "node:crypto";
import { issueToken, MetaService, Namespace } from "../engine/dist/meta/index.js";

const arg = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const INODES = arg("inodes", 200_000);
const OPS = arg("ops", 50_000);
const gc = globalThis.gc ?? (() => {});
const token = (scope, name) => createHash("sha256").update(`${scope}/${name}`).digest();
const rows = [];
const num = (n) => Math.round(n).toLocaleString("en-US");

async function timed(label, count, fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  rows.push([label, count ? `${num((count / ms) * 1000)} /s` : `${ms.toFixed(2)} ms`, `${cpuMs.toFixed(0)} ms`]);
  return ms;
}

// ---- 1. service per-op rates -----------------------------------------------------------------
const journal = { async append() {}, requestCheckpoint() {}, async close() {} };
const key = randomBytes(32);
const svc = new MetaService({ journal, tokenKey: key, schedule: [] });
const ctx = { token: issueToken(key, { client: "bench", mode: "admin", subtreeRoot: 1 }) };
const dirs = [];
for (let d = 0; d < Math.ceil(OPS / 1000); d++) {
  const r = await svc.mkdir(ctx, {
    requestId: `d${d}`,
    parent: 1,
    name: { token: token(1, `d${d}`), sealed: Buffer.from(`d${d}`) },
    mode: 0o755,
    uid: 0,
    gid: 0,
  });
  dirs.push(r.attr.ino);
}
const names = Array.from({ length: OPS }, (_, i) => ({
  token: token(dirs[i % dirs.length], `f${i}`),
  sealed: Buffer.from(`file-${i}.dat`),
}));
const inos = [];
await timed("create (MetaService, no-op journal)", OPS, async () => {
  for (let i = 0; i < OPS; i++) {
    const r = await svc.create(ctx, {
      requestId: `c${i}`,
      parent: dirs[i % dirs.length],
      name: names[i],
      mode: 0o644,
      uid: 0,
      gid: 0,
      exclusive: true,
    });
    inos.push(r.attr.ino);
  }
});
await timed("getattr, 1 inode per call", OPS * 2, async () => {
  for (let i = 0; i < OPS * 2; i++) await svc.getattr(ctx, { inos: [inos[i % OPS]] });
});
let pages = 0;
await timed("readdirplus, 1,000-entry pages", 0, async () => {
  for (const ino of dirs) {
    let cookie;
    do {
      const r = await svc.readdirplus(ctx, { ino, limit: 1000, ...(cookie ? { cookie } : {}) });
      cookie = r.cookie;
      pages++;
    } while (cookie);
  }
});
rows[rows.length - 1][0] += ` (${pages} pages)`;
await timed("rename within a directory", OPS, async () => {
  for (let i = 0; i < OPS; i++) {
    const parent = dirs[i % dirs.length];
    await svc.rename(ctx, {
      requestId: `r${i}`,
      parent,
      name: names[i].token,
      newParent: parent,
      newName: { token: token(parent, `g${i}`), sealed: Buffer.from(`renamed-${i}`) },
    });
  }
});

// ---- 2. namespace at scale -------------------------------------------------------------------
gc();
const heap0 = process.memoryUsage().heapUsed;
const ns = new Namespace();
const b64 = (b) => b.toString("base64");
await timed(`build ${num(INODES)} inodes (Namespace.apply)`, INODES, async () => {
  const parents = [];
  for (let d = 0; d < Math.ceil(INODES / 1000); d++) {
    const ino = ns.nextIno;
    ns.apply({
      op: "make",
      t: 1,
      parent: 1,
      token: b64(token(1, `d${d}`)),
      sealed: b64(Buffer.from(`dir-${d}`)),
      type: "dir",
      mode: 0o755,
      uid: 0,
      gid: 0,
      rdev: 0,
      ino,
    });
    parents.push(ino);
  }
  for (let i = 0; i < INODES; i++) {
    const ino = ns.nextIno;
    const parent = parents[i % parents.length];
    ns.apply({
      op: "make",
      t: 2,
      parent,
      token: b64(token(parent, `f${i}`)),
      sealed: b64(Buffer.from(`a-file-name-${i}.dat`)),
      type: "file",
      mode: 0o644,
      uid: 0,
      gid: 0,
      rdev: 0,
      ino,
    });
  }
});
gc();
rows.push(["heap per inode", `${num((process.memoryUsage().heapUsed - heap0) / INODES)} B`, ""]);
// Median of several: a single sample may land on a GC pause of the freshly built heap.
const snapMs = [];
for (let k = 0; k < 7; k++) {
  const t0 = performance.now();
  ns.apply({ op: "createSnapshot", t: 3, name: `bench-${k}` });
  snapMs.push(performance.now() - t0);
  ns.apply({ op: "setattr", t: 4, ino: 2 + k, mode: 0o600 });
}
snapMs.sort((a, b) => a - b);
rows.push([
  `snapshot create, ${num(INODES)}-inode tree (median of 7; max)`,
  `${snapMs[3].toFixed(3)} ms`,
  `${snapMs[6].toFixed(1)} ms`,
]);
let image;
await timed(`checkpoint image export, ${num(INODES)} inodes`, 0, async () => {
  image = ns.exportImage();
});
rows[rows.length - 1][0] += ` (${(image.length / 1e6).toFixed(0)} MB)`;
await timed(`checkpoint image import, ${num(INODES)} inodes`, 0, async () => {
  Namespace.importImage(image);
});

const w = [Math.max(...rows.map((r) => r[0].length)), 14, 10];
console.log(`${"case".padEnd(w[0])} | ${"result".padStart(w[1])} | ${"cpu".padStart(w[2])}`);
console.log(`${"-".repeat(w[0])}-|-${"-".repeat(w[1])}-|-${"-".repeat(w[2])}`);
for (const r of rows) console.log(`${r[0].padEnd(w[0])} | ${r[1].padStart(w[1])} | ${r[2].padStart(w[2])}`);
