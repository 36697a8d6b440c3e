#!/usr/bin/env node
/**
 * The cold read path over a real HTTP store, in one process, without FUSE and metadata: s3rver
 * behind the WAN delay proxy, the engine's S3 backend, BlockFetcher + disk cache + Prefetcher,
 * an application reading 1 MiB at a time. Next to it, in the same run, the raw limit: the same
 * S3 backend fetching the same sealed chunks with 16 GETs in flight (no decryption, no cache).
 * Reports MiB/s, this process's CPU per MiB (robust to a busy machine, where MiB/s is not) and the
 * store side's (s3rver + proxy: what the store spends serving this client's pattern of GETs).
 * Build first (`npx tsc -b`). Profile with `node --cpu-prof bench/read-path.mjs`.
 *
 * `--workers N` fetches through the fetch worker pool (data/fetch-pool) instead of this thread;
 * then "main ms/MiB" (event-loop busy time) is what the FUSE thread would pay.
 *
 * `--sdk-gets` sends ranged GETs through the AWS SDK's handler instead of the lean client
 * (object/s3-request-handler.ts), `--sdk-signed` through the SDK's stack over the lean client
 * instead of s3-direct-get.ts, for A/B; `--raw-into` lets the raw pass read each GET into a
 * buffer reused per lane (allocated before measuring), as the cold path's pooled buffers do.
 *
 *   node bench/read-path.mjs [--mib 256] [--delay-ms 25] [--no-disk] [--passes 2] [--pending-mib N]
 *                            [--workers N] [--sdk-gets] [--sdk-signed] [--raw-into] [--no-drop-behind] [--no-slab]
 */
import { mkdir } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { ChunkCodec, Keyring, newChunkId } from "../engine/dist/crypto/index.js";
import {
  BlockFetcher,
  chunkObjectKey,
  DataReader,
  DiskBlockCache,
  FetchPool,
  LocalRunSource,
  MemoryBlockCache,
  PlainSlab,
  Prefetcher,
  parseDataPathConfig,
  pooledGetBytes,
  RequestScheduler,
} from "../engine/dist/data/index.js";
import { S3ObjectStore } from "../engine/dist/object/s3.js";
import { cleanupAll, cpuSecondsOf, tempDir, trapSignals } from "./lib/procs.mjs";
import { startProxyProcess } from "./lib/proxy-process.mjs";
import { S3_KEY, S3_SECRET, startS3rver } from "./wan/s3.mjs";

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;

function args(argv) {
  const o = {
    mib: 256,
    delayMs: 25,
    disk: true,
    passes: 2,
    pendingMiB: undefined,
    workers: 0,
    dropBehind: true,
    slab: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--mib") o.mib = Number(argv[++i]);
    else if (a === "--delay-ms") o.delayMs = Number(argv[++i]);
    else if (a === "--no-disk") o.disk = false;
    else if (a === "--no-drop-behind") o.dropBehind = false;
    else if (a === "--no-slab") o.slab = false;
    else if (a === "--passes") o.passes = Number(argv[++i]);
    else if (a === "--pending-mib") o.pendingMiB = Number(argv[++i]);
    else if (a === "--workers") o.workers = Number(argv[++i]);
    else if (a === "--sdk-gets") o.sdkGets = true;
    else if (a === "--sdk-signed") o.sdkSigned = true;
    else if (a === "--raw-into") o.rawInto = true;
    else throw new Error(`unknown flag ${a} (see the header of bench/read-path.mjs)`);
  }
  if (!(o.mib >= 4) || !(o.delayMs >= 0) || !(o.passes >= 1)) throw new Error("bad flag value");
  return o;
}

const store = (endpoint, sdkGets = false, sdkSigned = false) =>
  new S3ObjectStore({
    leanRangeGets: !sdkGets,
    directRangeGets: !sdkSigned,
    bucket: "bench",
    prefix: "",
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    conditionalPut: false,
    credentials: { accessKeyId: S3_KEY, secretAccessKey: S3_SECRET },
  });

/**
 * CPU ms of this process (all threads), busy ms of its main thread, CPU ms of the store side
 * (s3rver + proxy: `storePids`) and wall ms of `fn`.
 */
async function measure(storePids, fn) {
  const store0 = await cpuSecondsOf(storePids);
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await fn();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const ms = performance.now() - t0;
  const storeMs = ((await cpuSecondsOf(storePids)) - store0) * 1000;
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, mainMs: elu.active, storeMs };
}

async function main() {
  const o = args(process.argv.slice(2));
  trapSignals();
  const work = await tempDir("filespaces-readpath-");
  const s3 = await startS3rver(path.join(work, "s3"), ["bench"]);
  const proxy = await startProxyProcess("s3 proxy", { host: "127.0.0.1", port: s3.port }, { delayMs: o.delayMs });
  const storePids = [s3.pid, proxy.pid];
  const keyring = Keyring.generate();
  const codec = new ChunkCodec(keyring);
  // fetch workers reopen the store from a URL and take credentials from the environment
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: S3_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET, AWS_REGION: "us-east-1" });
  const direct = store(s3.endpoint);
  const size = o.mib * MiB;
  const extents = [];
  const plain = Buffer.alloc(CHUNK, 0x5a);
  for (let off = 0; off < size; off += CHUNK) {
    const id = newChunkId();
    await direct.put(chunkObjectKey(id), codec.seal(id, plain));
    extents.push({ offset: off, length: CHUNK, chunkId: id, chunkOffset: 0 });
  }
  const source = {
    async getExtents(_ino, offset, length) {
      return extents.filter((e) => e.offset < offset + length && e.offset + e.length > offset);
    },
  };
  const rows = [];
  const row = (what, r, bytes) =>
    rows.push([
      what,
      `${(bytes / MiB / (r.ms / 1000)).toFixed(0)} MiB/s`,
      `${(r.cpuMs / (bytes / MiB)).toFixed(2)} ms CPU/MiB, main thread ${(r.mainMs / (bytes / MiB)).toFixed(2)}, store side ${(r.storeMs / (bytes / MiB)).toFixed(2)}`,
    ]);

  for (let pass = 1; pass <= o.passes; pass++) {
    const wan = store(`http://127.0.0.1:${proxy.port}`, o.sdkGets, o.sdkSigned);
    const laneBuffers = Array.from({ length: 16 }, () =>
      o.rawInto ? Buffer.alloc(codec.sealedSize(CHUNK)) : undefined,
    );
    // raw: 16 whole-chunk GETs in flight, bodies dropped
    let next = 0;
    const raw = await measure(storePids, () =>
      Promise.all(
        Array.from({ length: 16 }, async (_, lane) => {
          const into = laneBuffers[lane];
          while (next < extents.length) {
            const e = extents[next++];
            await wan.get(chunkObjectKey(e.chunkId), { range: { offset: 0, length: codec.sealedSize(CHUNK) }, into });
          }
        }),
      ),
    );
    row(`pass ${pass}: raw, 16 × 4 MiB GETs in flight`, raw, size);

    const config = parseDataPathConfig({});
    const cacheDir = path.join(work, `cache-${pass}`);
    await mkdir(cacheDir, { recursive: true });
    const diskOptions = o.pendingMiB ? { maxPendingWriteBytes: o.pendingMiB * MiB } : {};
    const disk = o.disk ? await DiskBlockCache.open(cacheDir, 4 * 1024 * MiB, diskOptions) : undefined;
    const slab = o.slab ? new PlainSlab(codec.blockSize, config.memoryCacheBytes + 256 * MiB) : undefined;
    const memory = new MemoryBlockCache(config.memoryCacheBytes, slab);
    const scheduler = new RequestScheduler({ demand: config.demandConcurrency, prefetch: config.prefetchConcurrency });
    const runSource =
      o.workers > 0
        ? await FetchPool.open({
            storeUrl: `s3://bench/?endpoint=${encodeURIComponent(`http://127.0.0.1:${proxy.port}`)}&pathStyle=true${o.sdkGets ? "&leanGets=false" : ""}${o.sdkSigned ? "&directGets=false" : ""}`,
            keyring,
            blockSize: codec.blockSize,
            maxGetBytes: pooledGetBytes(config), // as the mount sizes GET buffers
            workers: o.workers,
          })
        : new LocalRunSource(wan, codec, pooledGetBytes(config));
    const fetcher = new BlockFetcher(runSource, codec, memory, disk, scheduler, config.maxGetBytes, slab);
    const reader = new DataReader(source, fetcher, codec.blockSize);
    const prefetcher = new Prefetcher(reader, config);
    let firstMs;
    const t0 = performance.now();
    const cold = await measure(storePids, async () => {
      for (let pos = 0; pos < size; pos += MiB) {
        // As DataPath.readv does it: drop-behind for a continuing stream, then feed the prefetcher.
        const p = reader.readv(1, pos, MiB, o.dropBehind && prefetcher.continuesStream(1, 1, pos, MiB));
        prefetcher.onRead(1, 1, pos, MiB, size);
        const out = await p;
        firstMs ??= performance.now() - t0;
        if (out[0][0] !== 0x5a) throw new Error("wrong data");
        out.release(); // as the FUSE reply does once the kernel has the bytes
      }
    });
    const how = `${o.disk ? " (+ disk cache)" : ""}${o.dropBehind ? "" : ", no drop-behind"}${o.slab ? "" : ", no slab"}${o.workers ? `, ${o.workers} fetch workers` : ""}`;
    row(`pass ${pass}: cold sequential, 1 MiB reads${how}`, cold, size);
    rows.push([
      `  first read (1 MiB)`,
      `${firstMs.toFixed(0)} ms`,
      `${((firstMs / 2 / o.delayMs) * 1).toFixed(1)} RTT`,
    ]);
    await disk?.close();
    rows.push([
      "  gets / disk runs / skipped / pooled buffers",
      `${fetcher.stats.gets}`,
      `${disk?.getStats().runs ?? "-"} / ${disk?.getStats().skipped ?? "-"} / ${fetcher.source.bufferStats().allocated ?? "-"}`,
    ]);
    await wan.close();
    await runSource.close();
  }
  process.stdout.write(
    `\nRead path over ${2 * o.delayMs} ms RTT (s3rver + delay proxy), ${o.mib} MiB; load average ${loadavg()[0].toFixed(1)}\n`,
  );
  const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
  for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(w[0])}  ${b.padStart(w[1])}  ${c}\n`);
  await direct.close();
}

main()
  .catch((err) => {
    process.stderr.write(`bench/read-path: ${err.stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanupAll();
    process.exit();
  });
