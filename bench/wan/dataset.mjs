/**
 * The benchmark's data set: sizes (full per issue #5, or --quick), local source files with
 * random content and their SHA-256 (reads are verified against them), and seeding of the
 * plain bucket the peers mount (directly into s3rver: setup is never measured).
 */
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { mkdir, open } from "node:fs/promises";
import path from "node:path";
import { putFile, putSmallObjects, putSparseObject } from "./s3.mjs";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export function sizes(quick) {
  return quick
    ? { big: 64 * MiB, huge: 1 * GiB, frames: 20, frameSize: 8 * MiB, entries: 1000, creates: 1000, small: 4096 }
    : { big: 1 * GiB, huge: 10 * GiB, frames: 200, frameSize: 8 * MiB, entries: 10_000, creates: 10_000, small: 4096 };
}

export const frameName = (i) => `shot_${String(i + 1).padStart(4, "0")}.exr`;
export const entryName = (i) => `entry_${String(i).padStart(5, "0")}.txt`;

/** Writes `size` pseudo-random bytes (AES-CTR keystream: fast, incompressible); returns sha256. */
async function writeRandom(file, size) {
  const cipher = createCipheriv("aes-128-ctr", randomBytes(16), randomBytes(16));
  const zeros = Buffer.alloc(4 * MiB);
  const hash = createHash("sha256");
  const fh = await open(file, "w");
  try {
    for (let off = 0; off < size; off += zeros.length) {
      const block = cipher.update(zeros.subarray(0, Math.min(zeros.length, size - off)));
      hash.update(block);
      await fh.write(block, 0, block.length, off);
    }
  } finally {
    await fh.close();
  }
  return hash.digest("hex");
}

/**
 * Creates the local sources in `dir`: big.bin (sequential/random/write tests), head.bin (the
 * first 4 MiB of the very large file; the rest is a hole), frames/shot_NNNN.exr.
 */
export async function makeSources(dir, s) {
  await mkdir(path.join(dir, "frames"), { recursive: true });
  const src = {
    dir,
    big: path.join(dir, "big.bin"),
    head: path.join(dir, "head.bin"),
    frames: [],
    hashes: {},
  };
  src.hashes["big.bin"] = await writeRandom(src.big, s.big);
  src.hashes["head.bin"] = await writeRandom(src.head, 4 * MiB);
  for (let i = 0; i < s.frames; i++) {
    const f = path.join(dir, "frames", frameName(i));
    src.hashes[`frames/${frameName(i)}`] = await writeRandom(f, s.frameSize);
    src.frames.push(f);
  }
  return src;
}

/** Seeds the peers' bucket: big.bin, huge.bin (sparse), frames/, ls/ (entries), dir markers. */
export async function seedPlainBucket(client, s3rverDir, bucket, src, s) {
  const { readFile } = await import("node:fs/promises");
  await putFile(client, bucket, "big.bin", src.big);
  await putSparseObject(client, s3rverDir, bucket, "huge.bin", s.huge, await readFile(src.head));
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < src.frames.length; i = next++)
      await putFile(client, bucket, `frames/${frameName(i)}`, src.frames[i]);
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  // Directory marker objects: s3fs shows implied directories either way, but with markers
  // both peers see proper directories with attributes.
  for (const d of ["frames/", "ls/", "write/"]) await putSmallObjects(client, bucket, d, 1, Buffer.alloc(0), () => "");
  await putSmallObjects(client, bucket, "ls/", s.entries, Buffer.alloc(s.small, 7), entryName);
}
