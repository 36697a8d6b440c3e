#!/usr/bin/env node
/**
 * What the bench's store side (s3rver + the WAN delay proxy) spends per MiB it serves, by client,
 * object layout and neighbour. Why: in the WAN benchmark the store shares two cores with the
 * system under test, and behind the mount it spent 5–6 ms CPU per MiB against 3–4 behind the
 * raw client — a third of the gap to the raw line. This separates the candidates:
 * - layout: 8 MiB ranges of one 1 GiB object, or 128 whole 8 MiB objects (a filespace's chunks);
 * - client: curl (C), or the engine's S3 backend reading into pooled buffers (the fetch
 *   workers' path: signed direct GETs on the lean connection pool), 16 GETs in flight each;
 * - neighbours on the same CPUs: a spinning process, a memory-copy loop (64 MiB buffers), a
 *   process touching fresh memory (~100 MiB/s allocated, filled and dropped).
 * Build first (`npx tsc -b`). Prints one line per case and round, then the medians.
 *
 *   node bench/store-cost.mjs [--rounds 3] [--delay-ms 25] [--cases curl-ranges,engine-objects,...]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { allocAligned } from "../engine/dist/data/direct-io.js";
import { openObjectStore } from "../engine/dist/object/url.js";
import { cleanupAll, cpuSecondsOf, tempDir, trapSignals } from "./lib/procs.mjs";
import { startProxyProcess } from "./lib/proxy-process.mjs";
import { curlGetConfig, runCurlParallel, S3_KEY, S3_SECRET, s3Client, startS3rver } from "./wan/s3.mjs";

const MiB = 1024 * 1024;
const OBJECTS = 128;
const SIZE = 8 * MiB;
const PARALLEL = 16;

const opts = { rounds: 3, delayMs: 25, cases: undefined };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const val = () => process.argv[++i];
  if (a === "--rounds") opts.rounds = Number(val());
  else if (a === "--delay-ms") opts.delayMs = Number(val());
  else if (a === "--cases") opts.cases = val().split(",");
  else throw new Error(`unknown flag ${a}; see the header of bench/store-cost.mjs`);
}

/** Runs `fn` with `code` running beside it in its own Node process (killed afterwards). */
const beside = (code, fn) => async () => {
  const neighbour = spawn(process.execPath, ["-e", code], { stdio: "ignore" });
  try {
    await fn();
  } finally {
    neighbour.kill("SIGKILL");
  }
};
const SPIN = "for(;;){}";
const COPY = "const a=Buffer.alloc(64<<20),b=Buffer.alloc(64<<20);for(;;)a.copy(b)";
const FRESH = "setInterval(()=>Buffer.allocUnsafeSlow(32<<20).fill(1),300)";

trapSignals();
try {
  const dir = await tempDir("store-cost-");
  const s3 = await startS3rver(dir, ["plain"]);
  const proxy = await startProxyProcess("s3proxy", { host: "127.0.0.1", port: s3.port }, { delayMs: opts.delayMs });
  const endpoint = `http://127.0.0.1:${proxy.port}`;
  const seed = s3Client(`http://127.0.0.1:${s3.port}`);
  const body = randomBytes(SIZE);
  for (let i = 0; i < OBJECTS; i++)
    await seed.send(new PutObjectCommand({ Bucket: "plain", Key: `obj/${i}`, Body: body }));
  const big = Buffer.concat(Array.from({ length: OBJECTS }, () => body));
  await seed.send(new PutObjectCommand({ Bucket: "plain", Key: "big.bin", Body: big }));

  const ranges = Array.from({ length: OBJECTS }, (_, i) => ({ key: "big.bin", offset: i * SIZE }));
  const objects = Array.from({ length: OBJECTS }, (_, i) => ({ key: `obj/${i}`, offset: 0 }));

  const curlConf = path.join(dir, "curl.conf");
  const curl = (gets) => async () => {
    await writeFile(
      curlConf,
      curlGetConfig(
        endpoint,
        "plain",
        gets.map((g) => ({ ...g, length: SIZE })),
      ),
    );
    runCurlParallel(curlConf, PARALLEL);
  };

  process.env.AWS_ACCESS_KEY_ID = S3_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = S3_SECRET;
  const store = await openObjectStore(`s3://plain/?endpoint=${encodeURIComponent(endpoint)}&pathStyle=true`);
  const buffers = Array.from({ length: PARALLEL }, () => allocAligned(SIZE + 4096));
  const engine = (gets) => async () => {
    let next = 0;
    await Promise.all(
      buffers.map(async (into) => {
        for (let i = next++; i < gets.length; i = next++)
          await store.get(gets[i].key, { range: { offset: gets[i].offset, length: SIZE }, into });
      }),
    );
  };

  const cases = {
    "curl-ranges": curl(ranges),
    "curl-objects": curl(objects),
    "engine-ranges": engine(ranges),
    "engine-objects": engine(objects),
    "engine-objects+spin": beside(SPIN, engine(objects)),
    "engine-objects+copy": beside(COPY, engine(objects)),
    "engine-objects+fresh": beside(FRESH, engine(objects)),
  };
  for (const c of opts.cases ?? [])
    if (!cases[c]) throw new Error(`--cases: expected some of ${Object.keys(cases)}, got ${c}`);
  const chosen = Object.entries(cases).filter(([name]) => !opts.cases || opts.cases.includes(name));

  await engine(objects)(); // connections open, code warm, buffers touched
  const mib = (OBJECTS * SIZE) / MiB;
  const rows = new Map(chosen.map(([name]) => [name, []]));
  console.log(
    `store-side CPU per MiB served, ${mib} MiB per case, ${PARALLEL} GETs of 8 MiB in flight, RTT ${2 * opts.delayMs} ms`,
  );
  for (let round = 1; round <= opts.rounds; round++)
    for (const [name, fn] of chosen) {
      const pids = [s3.pid, proxy.pid];
      const [cpu0, self0, t0] = [await cpuSecondsOf(pids), process.cpuUsage(), performance.now()];
      await fn();
      const seconds = (performance.now() - t0) / 1000;
      const storeMs = (((await cpuSecondsOf(pids)) - cpu0) * 1000) / mib;
      const self = process.cpuUsage(self0);
      const row = { mibps: mib / seconds, storeMs, clientMs: (self.user + self.system) / 1000 / mib };
      rows.get(name).push(row);
      console.log(
        `round ${round}  ${name.padEnd(22)} ${row.mibps.toFixed(0).padStart(5)} MiB/s   store ${row.storeMs.toFixed(2)} ms/MiB` +
          (name.startsWith("engine") ? `   client ${row.clientMs.toFixed(2)} ms/MiB` : ""),
      );
    }
  const median = (xs) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log("\n| case | MiB/s | store side ms CPU/MiB |\n| --- | ---: | ---: |");
  for (const [name, rs] of rows)
    console.log(
      `| ${name} | ${median(rs.map((r) => r.mibps)).toFixed(0)} | ${median(rs.map((r) => r.storeMs)).toFixed(2)} |`,
    );
} finally {
  await cleanupAll();
}
