#!/usr/bin/env node
/**
 * The write-back pipeline alone (no FUSE, no VFS) against s3rver 50 ms away: write `--mib` MiB
 * in 1 MiB pieces (like `dd bs=1M`), fsync, flush until committed. Compares what the write-back
 * counted as uploaded with what crossed the link (the delay proxy's byte counter), so upload
 * amplification can be attributed: equal → the pipeline is clean and extra traffic comes from
 * above it (VFS/kernel); larger on the link → retries or re-uploads inside it.
 *
 *   node bench/writeback-wan.mjs [--mib 64] [--delay-ms 25] [--commit-ms 50]
 *
 * The commit sink waits `--commit-ms` per call (a metadata round trip). Also prints CPU per MiB of
 * this process and of the store side. Profile with `node --cpu-prof`. Build first (`npx tsc -b`).
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { ChunkCodec } from "../engine/dist/crypto/chunk.js";
import { Keyring } from "../engine/dist/crypto/keyring.js";
import { parseDataPathConfig, WriteBack } from "../engine/dist/data/index.js";
import { openObjectStore } from "../engine/dist/object/url.js";
import { cleanupAll, cpuSecondsOf, tempDir, trapSignals } from "./lib/procs.mjs";
import { startProxyProcess } from "./lib/proxy-process.mjs";
import { S3_KEY, S3_SECRET, startS3rver } from "./wan/s3.mjs";

const MiB = 1024 * 1024;

function parseArgs(argv) {
  const o = { mib: 64, delayMs: 25, commitMs: 50 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${a}: expected a number ≥ 0, got ${argv[i]}`);
    if (a === "--mib") o.mib = v;
    else if (a === "--delay-ms") o.delayMs = v;
    else if (a === "--commit-ms") o.commitMs = v;
    else throw new Error(`unknown flag ${a} (see the header of bench/writeback-wan.mjs)`);
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  trapSignals();
  const dir = await tempDir("writeback-wan-");
  const s3 = await startS3rver(path.join(dir, "s3"), ["wbbench"]);
  const proxy = await startProxyProcess("s3 proxy", { host: "127.0.0.1", port: s3.port }, { delayMs: o.delayMs });
  process.env.AWS_ACCESS_KEY_ID = S3_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = S3_SECRET;
  process.env.AWS_REGION = "us-east-1";
  const endpoint = encodeURIComponent(`http://127.0.0.1:${proxy.port}`);
  const store = await openObjectStore(`s3://wbbench/fs?endpoint=${endpoint}&pathStyle=true`);
  const codec = new ChunkCodec(Keyring.generate());
  const config = parseDataPathConfig({});
  let commits = 0;
  const sink = {
    async commitWrite() {
      await new Promise((r) => setTimeout(r, o.commitMs));
      commits++;
    },
    async setSize() {
      await new Promise((r) => setTimeout(r, o.commitMs));
      commits++;
    },
  };
  const wb = await WriteBack.open(
    { dir: path.join(dir, "log"), store, codec, sink, newChunkId: () => randomBytes(16).toString("hex") },
    config,
  );
  const piece = randomBytes(MiB);
  const before = await proxy.totals();
  const storePids = [s3.pid, proxy.pid];
  const store0 = await cpuSecondsOf(storePids);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < o.mib; i++) await wb.write(1, i * MiB, piece, i * MiB);
  wb.fsync();
  const tLocal = performance.now();
  await wb.flush();
  const tDone = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const storeS = (await cpuSecondsOf(storePids)) - store0;
  const after = await proxy.totals();
  const st = wb.stats();
  const up = (after.up - before.up) / MiB;
  console.log(
    `write-back of ${o.mib} MiB to s3rver over ${o.delayMs * 2} ms RTT (chunks ${config.chunkBytes / MiB} MiB, ` +
      `segments ${config.segmentBytes / MiB} MiB, ${config.uploadConcurrency} uploads in flight):`,
  );
  console.log(`  local log   ${(o.mib / ((tLocal - t0) / 1000)).toFixed(1)} MiB/s`);
  console.log(`  committed   ${(o.mib / ((tDone - t0) / 1000)).toFixed(1)} MiB/s (${commits} commits)`);
  console.log(
    `  uploaded    ${(st.uploadedBytes / MiB).toFixed(1)} MiB counted, ${up.toFixed(1)} MiB on the link ` +
      `(${(up / o.mib).toFixed(2)}×), ${st.uploadedChunks} chunks, ${st.retries} retries${st.lastError ? ` (last: ${st.lastError})` : ""}`,
  );
  console.log(
    `  CPU         ${((cpu.user + cpu.system) / 1000 / o.mib).toFixed(2)} ms/MiB in this process ` +
      `(write-back + uploads), ${((1000 * storeS) / o.mib).toFixed(2)} ms/MiB store side (s3rver + proxy)`,
  );
  await wb.drain();
  await store.close?.();
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
