/**
 * A stream's connections opened ahead (FetchPool.warmConnections) with real worker threads
 * against a real s3rver, counted from the server's side by a TCP relay: each worker opens its
 * share of the stream's GETs plus one, nothing is sent on them, asking again opens nothing more,
 * and that many runs at once then go out on them without a single new connect.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkCodec, Keyring, newChunkId } from "../../src/crypto/index.js";
import { chunkObjectKey, FetchPool } from "../../src/data/index.js";
import { openObjectStore } from "../../src/object/index.js";
import { type S3rverHandle, startS3rver } from "../harness/s3rver.js";
import { type CountingRelay, startCountingRelay, waitFor } from "../object/counting-relay.js";
import { pattern } from "./helpers.js";

const BLOCK = 64 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("fetch workers open a stream's connections ahead (s3rver behind a counting relay)", () => {
  let s3: S3rverHandle;
  let relay: CountingRelay;
  let pool: FetchPool | undefined;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

  beforeAll(async () => {
    s3 = await startS3rver();
    relay = await startCountingRelay(Number(new URL(s3.endpoint).port));
    // The workers reopen the store from its URL; credentials come from the environment.
    process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
  });
  afterAll(async () => {
    await pool?.close();
    await relay?.close();
    await s3?.stop();
    process.env.AWS_ACCESS_KEY_ID = saved.id;
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  it("each worker opens its share plus one; those runs then need no new connection", async () => {
    const keyring = Keyring.generate();
    const codec = new ChunkCodec(keyring, { blockSize: BLOCK });
    const direct = await openObjectStore(s3.url("warm/"), { s3: s3.credentials });
    const chunks = Array.from({ length: 8 }, () => newChunkId());
    for (const [i, id] of chunks.entries()) await direct.put(chunkObjectKey(id), codec.seal(id, pattern(4 * BLOCK, i)));
    await direct.close();

    const storeUrl = s3.url("warm/", relay.port);
    pool = await FetchPool.open({ storeUrl, keyring, blockSize: BLOCK, maxGetBytes: 4 << 20, workers: 2 });
    await sleep(100);
    const before = relay.conns.length; // a fresh client may have warmed one already

    pool.warmConnections(6); // 2 workers: 3 GETs each, plus one spare = 4 connections each
    await waitFor(() => relay.open() === 8);
    pool.warmConnections(6); // asked again: nothing more
    pool.warmConnections(4);
    await sleep(200);
    expect(relay.open()).toBe(8);
    const opened = relay.conns.length;
    expect(relay.conns.slice(before).every((c) => c.open && c.sentBytes === 0)).toBe(true);

    const runs = await Promise.all(
      chunks.map((id, i) =>
        pool!.fetch({ chunkId: id, first: 0, count: 4 }, (index, plain) => {
          if (!plain?.equals(pattern(4 * BLOCK, i).subarray(index * BLOCK, (index + 1) * BLOCK)))
            throw new Error(`block ${index} of run ${i} is not what was stored`);
        }),
      ),
    );
    for (const r of runs) r.release();
    expect(relay.conns.length).toBe(opened); // all eight runs went out on waiting connections
  });
});
