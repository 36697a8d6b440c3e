// Maintenance costs (built code, in process): GC, fsck and compaction.
//
//   npx tsc -b && node bench/maintenance.mjs [--chunks=20000] [--extents=4096]
//
// 1. GC over --chunks small chunk objects (half referenced, half old garbage) on file:// and
//    memory stores: listing + delete rate.
// 2. fsck (checkChunks with ChunkCodec.open) over 64 MiB of 1 MiB chunks: authenticate rate.
// 3. Compaction of a 64 MiB file written as --extents 16 KiB pieces (each its own chunk), and
//    what it buys: GETs and time to read the whole file back through its extents, before/after.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkCodec, Keyring, newChunkId } from "../engine/dist/crypto/index.js";
import { checkChunks } from "../engine/dist/meta/fsck/index.js";
import { collectGarbage } from "../engine/dist/meta/gc/index.js";
import { issueToken, MetaService } from "../engine/dist/meta/index.js";
import { compactFile } from "../engine/dist/meta/maintenance/index.js";
import { FileObjectStore, MemoryObjectStore } from "../engine/dist/object/index.js";

const arg = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const CHUNKS = arg("chunks", 20_000);
const EXTENTS = arg("extents", 4096);
const rows = [];
const num = (n) => Math.round(n).toLocaleString("en-US");
const key = (id) => `chunks/${id.slice(0, 2)}/${id}`;
const dirs = [];

async function gcBench(name, store, root) {
  const ids = Array.from({ length: CHUNKS }, () => newChunkId());
  const body = randomBytes(256);
  for (let i = 0; i < ids.length; i += 64)
    await Promise.all(ids.slice(i, i + 64).map((id) => store.put(key(id), body)));
  if (root) {
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const id of ids) await utimes(join(root, ...key(id).split("/")), old, old);
  }
  const live = new Set(ids.filter((_, i) => i % 2 === 0));
  const dry = await collectGarbage({ store, referenced: () => live, graceMs: root ? 3600_000 : 0, dryRun: true });
  rows.push([
    `gc dry run, ${name}, ${num(CHUNKS)} chunks`,
    `${dry.durationMs.toFixed(0)} ms`,
    `${num((CHUNKS / dry.durationMs) * 1000)} chunks/s scanned`,
  ]);
  const r = await collectGarbage({ store, referenced: () => live, graceMs: root ? 3600_000 : 0, concurrency: 16 });
  rows.push([
    `gc, ${name}, delete ${num(r.deleted)}`,
    `${r.durationMs.toFixed(0)} ms`,
    `${num((r.deleted / r.durationMs) * 1000)} deletes/s`,
  ]);
}

const codec = new ChunkCodec(Keyring.generate());

async function fsckBench() {
  const store = new MemoryObjectStore(`bench-fsck-${process.pid}`);
  const refs = [];
  for (let i = 0; i < 64; i++) {
    const id = newChunkId();
    await store.put(key(id), codec.seal(id, randomBytes(1024 * 1024)));
    refs.push({ chunkId: id, ranges: [{ offset: 0, length: 1024 * 1024 }] });
  }
  const t0 = performance.now();
  const r = await checkChunks({ store, references: refs, authenticate: (id, s) => codec.open(id, s).length });
  const ms = performance.now() - t0;
  rows.push([
    "fsck authenticate 64 MiB (memory store)",
    `${ms.toFixed(0)} ms`,
    `${num(64 / (ms / 1000))} MiB/s, healthy=${r.healthy}`,
  ]);
}

async function compactionBench() {
  const inner = new MemoryObjectStore(`bench-compact-${process.pid}`);
  let gets = 0;
  const store = new Proxy(inner, {
    get(t, p) {
      if (p === "get") {
        return (...a) => {
          gets++;
          return t.get(...a);
        };
      }
      const v = Reflect.get(t, p);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
  const tokenKey = randomBytes(32);
  const journal = { async append() {}, requestCheckpoint() {}, async close() {} };
  const api = new MetaService({ journal, tokenKey, schedule: [] });
  const token = issueToken(tokenKey, { client: "bench", mode: "admin", subtreeRoot: 1 });
  const { sessionId } = await api.openSession({ token }, { requestId: randomUUID() });
  const ctx = { token, sessionId };
  const name = { token: randomBytes(32), sealed: randomBytes(40) };
  const { attr } = await api.create(ctx, { requestId: randomUUID(), parent: 1, name, mode: 0o644, uid: 0, gid: 0 });
  const piece = 16 * 1024;
  for (let i = 0; i < EXTENTS; i++) {
    const id = newChunkId();
    await inner.put(key(id), codec.seal(id, randomBytes(piece)));
    await api.commitWrite(ctx, {
      requestId: randomUUID(),
      ino: attr.ino,
      extents: [{ offset: i * piece, length: piece, chunk: id, chunkOffset: 0 }],
      newSize: (i + 1) * piece,
      mtime: 1,
    });
  }
  const mib = (EXTENTS * piece) / 1024 / 1024;
  const readAll = async () => {
    gets = 0;
    const t0 = performance.now();
    const { extents } = await api.getExtents(ctx, { ino: attr.ino });
    for (const e of extents) {
      const range = codec.sealedRange(e.chunkOffset, e.length);
      codec.openRange(e.chunk, await store.get(key(e.chunk), { range }), range.firstBlock);
    }
    return { ms: performance.now() - t0, gets, extents: extents.length };
  };
  const before = await readAll();
  const deps = { api, ctx, store, codec, chunkSize: 4 * 1024 * 1024 };
  const t0 = performance.now();
  const r = await compactFile(deps, attr.ino);
  const ms = performance.now() - t0;
  const after = await readAll();
  rows.push([
    `compact ${num(mib)} MiB in ${num(EXTENTS)} extents (memory store)`,
    `${ms.toFixed(0)} ms`,
    `${num(mib / (ms / 1000))} MiB/s, ${r.extentsBefore} → ${r.extentsAfter} extents`,
  ]);
  rows.push(["read whole file back, before", `${before.ms.toFixed(0)} ms`, `${num(before.gets)} GETs`]);
  rows.push(["read whole file back, after", `${after.ms.toFixed(0)} ms`, `${num(after.gets)} GETs`]);
}

const dir = await mkdtemp(join(tmpdir(), "bench-maint-"));
dirs.push(dir);
try {
  await gcBench("file://", new FileObjectStore(dir, { fsync: false }), dir);
  await gcBench("memory", new MemoryObjectStore(`bench-gc-${process.pid}`));
  await fsckBench();
  await compactionBench();
} finally {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  "));
