/**
 * The object store of the WAN benchmark: an s3rver on loopback (flags per ENVIRONMENT.md)
 * and AWS SDK helpers to seed it directly (unproxied — seeding is setup, not measured).
 */
import { spawnSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { open, stat, truncate } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { s3rverArgs } from "../lib/object-services.mjs";
import { freePort, startService } from "../lib/procs.mjs";

export const S3_KEY = "S3RVER";
export const S3_SECRET = "S3RVER";
const MiB = 1024 * 1024;

/** Starts s3rver in `dir` with the given buckets; returns { port, endpoint, dir, pid, output(), stop }. */
export async function startS3rver(dir, buckets, { cpus } = {}) {
  const port = await freePort();
  // FILESPACE_BENCH_S3RVER_NODE_ARGS: Node flags for s3rver (e.g. --trace-gc), for diagnosis.
  const nodeArgs = (process.env.FILESPACE_BENCH_S3RVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const args = s3rverArgs({ dir, port, buckets, silent: true, nodeArgs });
  const svc = await startService("s3rver", process.execPath, args, {
    cpus,
    ready: async () =>
      new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port, path: `/${buckets[0]}?max-keys=1` }, (res) => {
          res.resume();
          resolve(res.statusCode === 200 || res.statusCode === 403);
        });
        req.on("error", () => resolve(false));
      }),
  });
  return { port, endpoint: `http://127.0.0.1:${port}`, dir, pid: svc.child.pid, output: svc.output, stop: svc.stop };
}

/** An S3 client for `endpoint` with up to `maxSockets` keep-alive connections. */
export function s3Client(endpoint, maxSockets = 64) {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: S3_KEY, secretAccessKey: S3_SECRET },
    requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets }), requestTimeout: 300_000 },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Uploads a local file (multipart, `parallel` parts of `partSize` in flight). */
export async function putFile(client, bucket, key, file, { partSize = 16 * MiB, parallel = 4 } = {}) {
  const { size } = await stat(file);
  if (size <= partSize) {
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(file), ContentLength: size }),
    );
    return;
  }
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts = [];
  const count = Math.ceil(size / partSize);
  let next = 0;
  const fh = await open(file, "r");
  try {
    const worker = async () => {
      for (let i = next++; i < count; i = next++) {
        const len = Math.min(partSize, size - i * partSize);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, i * partSize);
        const r = await client.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: buf }),
        );
        parts[i] = { ETag: r.ETag, PartNumber: i + 1 };
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    await fh.close();
  }
  await client.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }),
  );
}

/**
 * A very large object without writing it: put a small object, then make s3rver's backing
 * file sparse at `size` (s3rver reports the file's size and streams its holes as zeros).
 * The first `headBytes` are real data (`head` buffer) so a first-byte test reads content.
 */
export async function putSparseObject(client, s3rverDir, bucket, key, size, head) {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: head }));
  const parts = key.split("/");
  const file = path.join(s3rverDir, bucket, ...parts.slice(0, -1), `${parts.at(-1)}._S3rver_object`);
  await truncate(file, size);
  const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  if (h.ContentLength !== size) throw new Error(`sparse object ${key}: store reports ${h.ContentLength} bytes`);
}

/** Puts `count` small objects named `${prefix}${name(i)}` with `parallel` in flight. */
export async function putSmallObjects(client, bucket, prefix, count, body, name, parallel = 32) {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${name(i)}`, Body: body }));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Size of an object, or undefined when absent. */
export async function objectSize(client, bucket, key) {
  try {
    return (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength;
  } catch {
    return undefined;
  }
}

/**
 * A curl config (`curl -K`) for ranged GETs against s3rver, SigV4-signed by curl itself, bodies
 * to /dev/null: `gets` are { key, offset, length }, one request each, in order.
 */
export function curlGetConfig(endpoint, bucket, gets) {
  const auth = [
    `user = "${S3_KEY}:${S3_SECRET}"`,
    'aws-sigv4 = "aws:amz:us-east-1:s3"',
    'header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"', // s3rver insists on it
    'output = "/dev/null"',
  ];
  return gets
    .map(({ key, offset, length }) =>
      [
        `url = "${endpoint}/${bucket}/${key}"`,
        `header = "Range: bytes=${offset}-${offset + length - 1}"`,
        ...auth,
      ].join("\n"),
    )
    .join("\nnext\n");
}

/** Runs a curl config with `parallel` transfers at once; throws with curl's stderr on failure. */
export function runCurlParallel(configFile, parallel) {
  const r = spawnSync("curl", ["-sS", "--fail", "--parallel", "--parallel-max", String(parallel), "-K", configFile], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`curl failed: ${r.stderr}`);
}
