#!/usr/bin/env node
/**
 * The mount's create pattern against a real `filespace meta serve` 50 ms away (issue #5: creates
 * over `--meta` reached 0.5 files/s, then EIO). Per file: create(open) → commitWrite → release,
 * `--inflight` files at a time, through MetaClient with the mount's settings (10 s retry budget
 * and call deadline). Prints files/s, call latency percentiles, Batch rpcs and retries.
 *
 *   node bench/meta-wan-creates.mjs [--files 2000] [--inflight 64] [--delay-ms 25]
 *                                   [--s3 1] [--budget-ms 10000] [--window BYTES] [--listers N]
 *                                   [--pipeline N]   (mutation rpcs in flight; client default 1)
 *
 * `--listers N` runs N loops of cold-`ls`-like reads (readdirplus pages of 1,000 over a
 * 10,000-entry directory, seeded first) while the creates run; `--window` sets the client's
 * HTTP/2 receive window (65535 = the HTTP/2 default the client had before).
 *
 * Build first (`npx tsc -b`): it runs engine/dist and cli/bin. Topology: meta serve (on a
 * file:// store in a temp dir, or with `--s3 1` on s3rver like the WAN benchmark) ← delay proxy
 * (child process) ← this process.
 */
import { createHmac, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { issueToken } from "../engine/dist/meta/access/token.js";
import { MetaClient } from "../engine/dist/meta/grpc/client.js";
import { deriveAccessTokenKey } from "../engine/dist/meta/grpc/serve.js";
import { cleanupAll, freePort, startService, tempDir, trapSignals } from "./lib/procs.mjs";
import { startProxyProcess } from "./lib/proxy-process.mjs";
import { S3_KEY, S3_SECRET, startS3rver } from "./wan/s3.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function parseArgs(argv) {
  const o = { files: 2000, inflight: 64, delayMs: 25, budgetMs: 10_000, s3: 0, window: 0, listers: 0, pipeline: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${a}: expected a number ≥ 0, got ${argv[i]}`);
    if (a === "--files") o.files = v;
    else if (a === "--inflight") o.inflight = v;
    else if (a === "--delay-ms") o.delayMs = v;
    else if (a === "--budget-ms") o.budgetMs = v;
    else if (a === "--s3") o.s3 = v;
    else if (a === "--window") o.window = v;
    else if (a === "--listers") o.listers = v;
    else if (a === "--pipeline") o.pipeline = v;
    else throw new Error(`unknown flag ${a} (see the header of bench/meta-wan-creates.mjs)`);
  }
  return o;
}

const token32 = (scope, name) => createHmac("sha256", "bench").update(`${scope}/${name}`).digest();
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

async function main() {
  const o = parseArgs(process.argv.slice(2));
  trapSignals();
  const dir = await tempDir("meta-wan-creates-");
  const key = randomBytes(32);
  await writeFile(path.join(dir, "meta.key"), key.toString("base64"));
  const port = await freePort();
  const cli = path.join(root, "cli/bin/filespace.js");
  let storeUrl = `file://${path.join(dir, "store")}`;
  const env = { ...process.env };
  if (o.s3) {
    const s3 = await startS3rver(path.join(dir, "s3"), ["metabench"]);
    Object.assign(env, { AWS_ACCESS_KEY_ID: S3_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET, AWS_REGION: "us-east-1" });
    storeUrl = `s3://metabench/fs?endpoint=${encodeURIComponent(s3.endpoint)}&pathStyle=true`;
  }
  const serveArgs = [cli, "meta", "serve", storeUrl, "--listen", `127.0.0.1:${port}`];
  serveArgs.push("--meta-key-file", path.join(dir, "meta.key"), "--cache-dir", path.join(dir, "cache"));
  await startService("meta serve", process.execPath, serveArgs, { ready: /serving filespace metadata/, env });
  const proxy = await startProxyProcess("meta proxy", { host: "127.0.0.1", port }, { delayMs: o.delayMs });
  const client = new MetaClient({
    address: `127.0.0.1:${proxy.port}`,
    retryBudgetMs: o.budgetMs,
    callTimeoutMs: Math.max(2000, o.budgetMs),
    ...(o.window ? { flowControlWindowBytes: o.window } : {}),
    ...(o.pipeline ? { mutationPipeline: o.pipeline } : {}),
  });
  const token = issueToken(deriveAccessTokenKey(key), { client: "bench", mode: "rw", subtreeRoot: 1 });
  const s = await client.openSession({ token }, { requestId: "s", clientName: "bench" });
  const ctx = { token, sessionId: s.sessionId };
  const heartbeat = setInterval(() => client.heartbeat(ctx).catch(() => {}), 5_000);

  // The directory the listers read: 10,000 entries, made fast (batched, many in flight).
  let listDir = 0;
  if (o.listers > 0) {
    const d = await client.mkdir(ctx, {
      requestId: "ls",
      parent: 1,
      name: { token: token32(1, "ls"), sealed: Buffer.from("ls") },
      mode: 0o755,
      uid: 0,
      gid: 0,
    });
    listDir = d.attr.ino;
    await Promise.all(
      Array.from({ length: 10_000 }, (_, i) =>
        client.create(ctx, {
          requestId: `ls${i}`,
          parent: listDir,
          name: { token: token32(listDir, `e${i}`), sealed: Buffer.from(`sealed-e${i}-${"y".repeat(40)}`) },
          mode: 0o644,
          uid: 0,
          gid: 0,
        }),
      ),
    );
  }
  let listing = true;
  let listed = 0;
  const lister = async () => {
    while (listing) {
      let cookie;
      do {
        const page = await client.readdirplus(ctx, { ino: listDir, limit: 1000, ...(cookie ? { cookie } : {}) });
        listed += page.entries.length;
        cookie = page.cookie;
      } while (cookie && listing);
    }
  };
  const listers = Array.from({ length: o.listers }, lister);

  const lat = { create: [], commitWrite: [], release: [] };
  const timed = async (op, p) => {
    const t0 = performance.now();
    const r = await p;
    lat[op].push(performance.now() - t0);
    return r;
  };
  let next = 0;
  let errors = 0;
  let firstError;
  const t0 = performance.now();
  const worker = async () => {
    for (let i = next++; i < o.files; i = next++) {
      try {
        const name = { token: token32(1, `f${i}`), sealed: Buffer.from(`sealed-f${i}-${"x".repeat(40)}`) };
        const c = await timed(
          "create",
          client.create(ctx, { requestId: `c${i}`, parent: 1, name, mode: 0o644, uid: 0, gid: 0, open: true }),
        );
        const chunk = randomBytes(12).toString("hex");
        await timed(
          "commitWrite",
          client.commitWrite(ctx, {
            requestId: `w${i}`,
            ino: c.attr.ino,
            extents: [{ offset: 0, length: 4096, chunk, chunkOffset: 0 }],
            newSize: 4096,
            mtime: Date.now(),
          }),
        );
        await timed("release", client.release(ctx, { requestId: `r${i}`, handle: c.handle }));
      } catch (err) {
        errors++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: o.inflight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  listing = false;
  await Promise.allSettled(listers);
  const rows = Object.entries(lat).map(([op, l]) => {
    const sorted = l.sort((a, b) => a - b);
    return `${op.padEnd(12)} p50 ${pct(sorted, 50).toFixed(0)} ms  p99 ${pct(sorted, 99).toFixed(0)} ms  max ${(sorted.at(-1) ?? 0).toFixed(0)} ms`;
  });
  const b = client.batchStats;
  console.log(
    `meta over ${o.delayMs * 2} ms RTT: ${o.files} files (create+commitWrite+release), ${o.inflight} in flight: ` +
      `${(o.files / seconds).toFixed(1)} files/s in ${seconds.toFixed(1)} s, errors ${errors}${firstError ? ` (first: ${firstError.message})` : ""}`,
  );
  for (const r of rows) console.log(`  ${r}`);
  if (o.listers) console.log(`  listers      ${listed} entries read meanwhile (${(listed / seconds).toFixed(0)}/s)`);
  // Then list the directory back the way a cold `ls -l` does: readdirplus pages of 10,000.
  for (let round = 0; round < 2; round++) {
    const tl = performance.now();
    let pages = 0;
    let entries = 0;
    let cookie;
    do {
      const page = await client.readdirplus(ctx, { ino: 1, limit: 10_000, ...(cookie ? { cookie } : {}) });
      pages++;
      entries += page.entries.length;
      cookie = page.cookie;
    } while (cookie);
    const ms = performance.now() - tl;
    console.log(
      `  readdirplus  ${entries} entries in ${pages} page(s): ${ms.toFixed(0)} ms (${(ms / (o.delayMs * 2)).toFixed(1)} RTT)`,
    );
  }
  console.log(
    `  rpcs ${b.rpcs}, calls ${b.calls} (${(b.calls / Math.max(1, b.rpcs)).toFixed(1)} per rpc), retries ${client.retries}`,
  );
  clearInterval(heartbeat);
  client.close();
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
