#!/usr/bin/env node
// Data path over a simulated WAN (in-process latency/bandwidth wrapper), against the built
// engine (`npx tsc -b` first, or `npm run bench:data-path` if wired). Prints a table; numbers go
// to docs/benchmarks.md ("Data path"). Sizes are modest so one run takes about a minute.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkCodec, Keyring, newChunkId } from "../engine/dist/crypto/index.js";
import {
  BlockFetcher,
  CachedExtentSource,
  chunkObjectKey,
  DataReader,
  DiskBlockCache,
  LocalRunSource,
  MemoryBlockCache,
  Prefetcher,
  parseDataPathConfig,
  RequestScheduler,
  WriteBack,
} from "../engine/dist/data/index.js";
import { LatencyObjectStore } from "../engine/dist/object/latency.js";
import { MemoryObjectStore } from "../engine/dist/object/memory.js";

const MiB = 1024 * 1024;
const RTT_MS = Number(process.env.RTT_MS ?? 50);
const BW = Number(process.env.BW_MIB ?? 100) * MiB;
const CHUNK = 4 * MiB;
const config = parseDataPathConfig({});
const codec = new ChunkCodec(Keyring.generate());
const rows = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function wan(inner) {
  return new LatencyObjectStore(inner, {
    requestMs: RTT_MS / 2,
    responseMs: RTT_MS / 2,
    downloadBytesPerSecond: BW,
    uploadBytesPerSecond: BW,
  });
}

/** Metadata service stand-in: extents of files made of whole chunks, one RTT per call. */
class SlowMeta {
  files = new Map();
  calls = 0;
  async getExtents(ino, offset, length) {
    this.calls++;
    await sleep(RTT_MS);
    return (this.files.get(ino) ?? []).filter((e) => e.offset < offset + length && e.offset + e.length > offset);
  }
  async commitWrite(ino, extents) {
    await sleep(RTT_MS);
    const list = this.files.get(ino) ?? [];
    list.push(...extents);
    this.files.set(ino, list);
  }
  async setSize() {}
}

async function makeFile(raw, meta, ino, size) {
  const extents = [];
  for (let off = 0; off < size; off += CHUNK) {
    const id = newChunkId();
    const n = Math.min(CHUNK, size - off);
    await raw.put(chunkObjectKey(id), codec.seal(id, Buffer.alloc(n, ino & 0xff)));
    extents.push({ offset: off, length: n, chunkId: id, chunkOffset: 0 });
  }
  meta.files.set(ino, extents);
  return extents;
}

function client(store, meta) {
  const memory = new MemoryBlockCache(config.memoryCacheBytes);
  const scheduler = new RequestScheduler({ demand: config.demandConcurrency, prefetch: config.prefetchConcurrency });
  const fetcher = new BlockFetcher(
    new LocalRunSource(store, codec, config.maxGetBytes),
    codec,
    memory,
    undefined,
    scheduler,
    config.maxGetBytes,
  );
  const reader = new DataReader(new CachedExtentSource(meta), fetcher, codec.blockSize);
  return { memory, fetcher, reader };
}

/** A plain client: every chunk of the files fetched with `parallel` whole-object GETs in flight. */
async function rawParallel(store, chunkIds, parallel = 16) {
  const start = performance.now();
  let next = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < chunkIds.length) {
        const id = chunkIds[next++];
        const body = await store.get(chunkObjectKey(id), { range: { offset: 0, length: codec.sealedSize(CHUNK) } });
        bytes += body.length;
      }
    }),
  );
  return bytes / MiB / ((performance.now() - start) / 1000);
}

/** An application reading a file front to back with `readSize` reads, one at a time (like cat). */
async function appRead(c, prefetcher, handle, ino, size, readSize = MiB) {
  for (let pos = 0; pos < size; pos += readSize) {
    const n = Math.min(readSize, size - pos);
    const p = c.reader.read(ino, pos, n);
    prefetcher.onRead(handle, ino, pos, n, size);
    await p;
  }
}

// ---- cold sequential read vs a plain parallel range-GET client ----
{
  const raw = new MemoryObjectStore("bench-seq");
  const meta = new SlowMeta();
  const size = 256 * MiB;
  const extents = await makeFile(raw, meta, 1, size);
  const baseline = await rawParallel(
    wan(raw),
    extents.map((e) => e.chunkId),
  );
  const c = client(wan(raw), meta);
  const prefetcher = new Prefetcher(c.reader, config);
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await appRead(c, prefetcher, 1, 1, size);
  const cpu = process.cpuUsage(cpu0);
  const ours = size / MiB / ((performance.now() - start) / 1000);
  const cpuMsPerMiB = (cpu.user + cpu.system) / 1000 / (size / MiB);
  rows.push(["raw client, 16 parallel 4 MiB GETs", `${baseline.toFixed(0)} MiB/s`, ""]);
  rows.push([
    "cold sequential read, 1 MiB app reads",
    `${ours.toFixed(0)} MiB/s`,
    `${((100 * ours) / baseline).toFixed(0)} % of raw`,
  ]);
  rows.push([
    "  CPU per MiB read (decrypt, copies, simulation)",
    `${cpuMsPerMiB.toFixed(2)} ms`,
    `one idle core sustains ≈ ${(1000 / cpuMsPerMiB).toFixed(0)} MiB/s`,
  ]);
  rows.push([
    "  prefetch accuracy used/prefetched",
    `${c.memory.accuracy.used}/${c.memory.accuracy.prefetched}`,
    `late ${c.memory.accuracy.late}`,
  ]);
}

// ---- first byte of a cold file ----
{
  const raw = new MemoryObjectStore("bench-first");
  const meta = new SlowMeta();
  const times = [];
  for (let ino = 2; ino < 7; ino++) {
    await makeFile(raw, meta, ino, 8 * MiB);
    const c = client(wan(raw), meta);
    const start = performance.now();
    await c.reader.read(ino, 3 * MiB + 100, 4096);
    times.push(performance.now() - start);
  }
  const ms = times.sort((a, b) => a - b)[2];
  rows.push([
    "first byte, cold file (extents + GET), median of 5",
    `${ms.toFixed(0)} ms`,
    `${(ms / RTT_MS).toFixed(2)} RTT`,
  ]);
}

// ---- image sequence: frames read whole, one after another, with the sequence hint ----
for (const openRtt of [false, true]) {
  const raw = new MemoryObjectStore(`bench-seqn-${openRtt}`);
  const meta = new SlowMeta();
  const frames = 48;
  const frameSize = 4 * MiB;
  const ids = [];
  for (let f = 1; f <= frames; f++) ids.push(...(await makeFile(raw, meta, 100 + f, frameSize)).map((e) => e.chunkId));
  const baseline = await rawParallel(wan(raw), ids);
  const c = client(wan(raw), meta);
  const hint = async (ino, count) => {
    const out = [];
    for (let i = ino + 1; i <= Math.min(100 + frames, ino + count); i++) out.push({ ino: i, size: frameSize });
    return out;
  };
  const prefetcher = new Prefetcher(c.reader, { ...config, sequenceDepth: 8 }, hint);
  const start = performance.now();
  for (let f = 1; f <= frames; f++) {
    if (openRtt) await sleep(RTT_MS); // open() costing one metadata round trip
    await appRead(c, prefetcher, f, 100 + f, frameSize);
    prefetcher.closeHandle(f);
  }
  const ours = (frames * frameSize) / MiB / ((performance.now() - start) / 1000);
  const what = openRtt ? "open = 1 RTT each" : "open from attr cache";
  rows.push([
    `image sequence, ${frames} × 4 MiB frames, ${what}`,
    `${ours.toFixed(0)} MiB/s`,
    `${((100 * ours) / baseline).toFixed(0)} % of raw (${baseline.toFixed(0)} MiB/s)`,
  ]);
}

// ---- disk cache: reopen time at 100k blocks, hit cost ----
if (!process.env.SKIP_DISK) {
  const dir = mkdtempSync(join(tmpdir(), "bench-disk-"));
  const blocks = Number(process.env.DISK_BLOCKS ?? 100_000);
  const cache = await DiskBlockCache.open(dir, 2 ** 40);
  const small = Buffer.alloc(256, 1);
  let start = performance.now();
  for (let i = 0; i < blocks; i += 256) {
    const jobs = [];
    for (let j = i; j < Math.min(blocks, i + 256); j++)
      jobs.push(cache.put(`c${(j % 4096).toString(36).padStart(3, "0")}x${Math.floor(j / 4096)}`, j, small));
    await Promise.all(jobs);
  }
  const fillS = (performance.now() - start) / 1000;
  start = performance.now();
  const reopened = await DiskBlockCache.open(dir, 2 ** 40);
  const reopenMs = performance.now() - start;
  rows.push([`disk cache: fill ${blocks} blocks`, `${fillS.toFixed(1)} s`, ""]);
  rows.push([
    `disk cache: reopen (index rebuild) ${reopened.getStats().blocks} blocks`,
    `${reopenMs.toFixed(0)} ms`,
    "",
  ]);
  const id = newChunkId();
  const sealed = codec.seal(id, Buffer.alloc(codec.blockSize, 3));
  await reopened.put(id, 0, sealed);
  const n = 2000;
  start = performance.now();
  for (let i = 0; i < n; i++) codec.openRange(id, sealed, 0);
  const openUs = ((performance.now() - start) * 1000) / n;
  start = performance.now();
  for (let i = 0; i < n; i++) codec.openRange(id, await reopened.get(id, 0), 0);
  const hitUs = ((performance.now() - start) * 1000) / n;
  rows.push([
    "disk hit, 64 KiB block (read + AEAD open)",
    `${hitUs.toFixed(0)} µs`,
    `AEAD open alone ${openUs.toFixed(0)} µs`,
  ]);
  rmSync(dir, { recursive: true, force: true });
}

// ---- write-back: 128 MiB in 1 MiB writes, then flush ----
{
  const dir = mkdtempSync(join(tmpdir(), "bench-wb-"));
  const raw = new MemoryObjectStore("bench-wb");
  const meta = new SlowMeta();
  const wb = await WriteBack.open({ dir, store: wan(raw), codec, sink: meta, newChunkId }, config);
  const size = 128 * MiB;
  const data = Buffer.alloc(MiB, 7);
  const start = performance.now();
  for (let pos = 0; pos < size; pos += MiB) await wb.write(1, pos, data, pos);
  wb.fsync();
  const logMs = performance.now() - start;
  await wb.drain();
  const total = (performance.now() - start) / 1000;
  rows.push([
    "write-back: 128 MiB into the local log + fsync",
    `${(size / MiB / (logMs / 1000)).toFixed(0)} MiB/s`,
    "",
  ]);
  rows.push(["write-back: until all committed", `${(size / MiB / total).toFixed(0)} MiB/s`, `link ${BW / MiB} MiB/s`]);
  rmSync(dir, { recursive: true, force: true });
}

const { loadavg } = await import("node:os");
console.log(
  `\nData path, simulated link: ${RTT_MS} ms RTT, ${BW / MiB} MiB/s each way; load average ${loadavg()[0].toFixed(1)}\n`,
);
const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
for (const [a, b, c] of rows) console.log(`${a.padEnd(w[0])}  ${b.padStart(w[1])}  ${c}`);
