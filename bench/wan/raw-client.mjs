#!/usr/bin/env node
/**
 * The raw limit: what the store delivers, over the same delay proxy, to a plain client that
 * only does parallel range GETs (no file system, no crypto). Run as its own process so it
 * does not share an event loop with the proxies. Prints one JSON object.
 *
 *   raw-client.mjs seq    ENDPOINT BUCKET KEY SIZE [--parallel 16] [--range 8MiB] [--bytes N]
 *   raw-client.mjs seqcurl …same as seq, with curl --parallel (C client)
 *   raw-client.mjs ttfb   ENDPOINT BUCKET KEY          first byte on a fresh connection
 *   raw-client.mjs random ENDPOINT BUCKET KEY SIZE --seconds S [--bs 64KiB]   one at a time
 *   raw-client.mjs list   ENDPOINT BUCKET PREFIX       ListObjectsV2 pages until done
 *   raw-client.mjs put    ENDPOINT BUCKET KEY SIZE [--parallel 8] [--range 8MiB]   multipart
 *   raw-client.mjs putobjects ENDPOINT BUCKET PREFIX SIZE [--parallel 8] [--range 4MiB]   one PUT per piece
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { curlGetConfig, runCurlParallel, s3Client } from "./s3.mjs";

const MiB = 1024 * 1024;

function flags(argv) {
  const pos = [];
  const opt = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith("--")) opt[argv[i].slice(2)] = argv[++i];
    else pos.push(argv[i]);
  }
  return { pos, opt };
}

async function getRange(client, bucket, key, offset, length) {
  const r = await client.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }),
  );
  let n = 0;
  for await (const chunk of r.Body) n += chunk.length;
  if (n !== length) throw new Error(`range ${offset}+${length}: got ${n} bytes`);
  return n;
}

/**
 * Steady-state throughput: `parallel` connections are opened (and the SDK warmed) first, then
 * `--bytes` (default: the object size) are read as ranges cycling over the object, so a small
 * object still measures the store's rate rather than connection start-up.
 */
async function seq(client, [bucket, key, size], opt) {
  const objectSize = Number(size);
  const total = Number(opt.bytes ?? objectSize);
  const parallel = Number(opt.parallel ?? 16);
  const range = Math.min(Number(opt.range ?? 8 * MiB), objectSize);
  await Promise.all(Array.from({ length: parallel }, () => getRange(client, bucket, key, 0, 64 * 1024)));
  const span = objectSize - (objectSize % range); // whole ranges only, so every GET is full
  let next = 0;
  let bytes = 0;
  const start = performance.now();
  const worker = async () => {
    for (let done = next; done < total; done = next) {
      next += range;
      const n = await getRange(client, bucket, key, done % span, Math.min(range, total - done));
      bytes += n; // not `bytes += await …`: that would read `bytes` before the await
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const s = (performance.now() - start) / 1000;
  return { seconds: s, mibps: bytes / MiB / s, parallel, rangeMiB: range / MiB };
}

/**
 * The same steady-state read with curl (C, libcurl like s3fs) instead of the Node SDK: on a
 * busy 2-core machine a Node client can be CPU-bound before the store is, and the limit must
 * be the store's, not the client's.
 */
async function seqcurl(_client, [bucket, key, size], opt) {
  const objectSize = Number(size);
  const total = Number(opt.bytes ?? objectSize);
  const range = Math.min(Number(opt.range ?? 8 * MiB), objectSize);
  const span = objectSize - (objectSize % range);
  const gets = [];
  for (let done = 0; done < total; done += range)
    gets.push({ key, offset: done % span, length: Math.min(range, total - done) });
  const dir = await mkdtemp(path.join(tmpdir(), "raw-curl-"));
  const config = path.join(dir, "curl.conf");
  await writeFile(config, curlGetConfig(opt.endpoint, bucket, gets));
  const start = performance.now();
  try {
    runCurlParallel(config, opt.parallel ?? 16);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const s = (performance.now() - start) / 1000;
  return { seconds: s, mibps: total / MiB / s, client: "curl" };
}

async function ttfb(client, [bucket, key], opt) {
  // Warm the SDK's code paths on one client, then measure on a fresh one: the number is a
  // fresh connection (handshake included), not JavaScript start-up.
  await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const fresh = s3Client(opt.endpoint, 4);
  const start = performance.now();
  const r = await fresh.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: "bytes=0-4095" }));
  for await (const _ of r.Body) break;
  return { ms: performance.now() - start };
}

async function random(client, [bucket, key, size], opt) {
  const total = Number(size);
  const bs = Number(opt.bs ?? 64 * 1024);
  const until = performance.now() + Number(opt.seconds ?? 10) * 1000;
  const start = performance.now();
  let ios = 0;
  while (performance.now() < until) {
    const off = Math.floor(Math.random() * Math.floor(total / bs)) * bs;
    await getRange(client, bucket, key, off, bs);
    ios++;
  }
  const s = (performance.now() - start) / 1000;
  return { ios, iops: ios / s, latencyMs: (s * 1000) / ios, mibps: (ios * bs) / MiB / s };
}

async function list(client, [bucket, prefix]) {
  const start = performance.now();
  let keys = 0;
  let pages = 0;
  let token;
  do {
    const r = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 }),
    );
    keys += r.KeyCount ?? 0;
    pages++;
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return { ms: performance.now() - start, keys, pages };
}

async function put(client, [bucket, key, size], opt) {
  const total = Number(size);
  const parallel = Number(opt.parallel ?? 8);
  const part = Number(opt.range ?? 8 * MiB);
  const body = randomBytes(part); // same bytes per part: the store does not dedupe
  const start = performance.now();
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const count = Math.ceil(total / part);
  const parts = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const len = Math.min(part, total - i * part);
      const r = await client.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body.subarray(0, len) }),
      );
      parts[i] = { ETag: r.ETag, PartNumber: i + 1 };
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  await client.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }),
  );
  const s = (performance.now() - start) / 1000;
  return { seconds: s, mibps: total / MiB / s };
}

/**
 * The same bytes as parallel single-object PUTs of `--range` each (how chunked clients such as
 * filespace write): no multipart completion, which on s3rver re-reads and re-writes the whole
 * object and so caps a multipart upload below what the store accepts.
 */
async function putobjects(client, [bucket, prefix, size], opt) {
  const total = Number(size);
  const parallel = Number(opt.parallel ?? 8);
  const piece = Number(opt.range ?? 4 * MiB);
  const body = randomBytes(piece);
  const count = Math.ceil(total / piece);
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const len = Math.min(piece, total - i * piece);
      const key = `${prefix}/${String(i).padStart(6, "0")}`;
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body.subarray(0, len) }));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const s = (performance.now() - start) / 1000;
  return { seconds: s, mibps: total / MiB / s };
}

const modes = { seq, seqcurl, ttfb, random, list, put, putobjects };
const { pos, opt } = flags(process.argv.slice(2));
const [mode, endpoint, ...rest] = pos;
if (!modes[mode] || !endpoint) {
  process.stderr.write("usage: raw-client.mjs seq|seqcurl|ttfb|random|list|put|putobjects ENDPOINT BUCKET …\n");
  process.exit(2);
}
opt.endpoint = endpoint;
const client = s3Client(endpoint, Number(opt.parallel ?? 16) + 4);
try {
  process.stdout.write(`${JSON.stringify(await modes[mode](client, rest, opt))}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`raw-client ${mode}: ${err.stack ?? err}\n`);
  process.exit(1);
}
