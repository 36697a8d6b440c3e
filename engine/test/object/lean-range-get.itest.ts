/**
 * The S3 backend's ranged GETs over the lean client (s3-request-handler.ts) against a real s3rver:
 * same answers and errors as the SDK path (404 → not found, 416 → empty), bodies in the caller's
 * buffer, an abort mid-body, and the URL switch back to the SDK path.
 */
import { ObjectAbortedError, ObjectNotFoundError } from "@filespaces/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ObjectStore, s3ConfigFromUrl } from "../../src/object/s3.js";
import { type S3rverHandle, startS3rver } from "../harness/s3rver.js";

let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.stop();
});

const open = (query = "") =>
  new S3ObjectStore(s3ConfigFromUrl(new URL(`${s3.url("lean/")}${query}`), { s3: s3.credentials }));

describe("S3 ranged GETs over the lean client (s3rver)", () => {
  it("reads ranges into the caller's buffer with progress, maps 404 and 416 as the SDK path does", async () => {
    const store = open();
    const body = Buffer.alloc(3 << 20);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32BE(i, i);
    await store.put("big", body);
    const into = Buffer.alloc(4 << 20);
    const seen: number[] = [];
    const got = await store.get("big", {
      range: { offset: 1001, length: 2 << 20 },
      into,
      onProgress: (n) => seen.push(n),
    });
    expect(got.buffer).toBe(into.buffer);
    expect(got.equals(body.subarray(1001, 1001 + (2 << 20)))).toBe(true);
    expect(seen.every((n, i) => i === 0 || n > seen[i - 1]!)).toBe(true);
    expect(seen.at(-1)).toBe(2 << 20);
    // A range past the end is clipped by the server, and one at the end is empty (416).
    expect((await store.get("big", { range: { offset: (3 << 20) - 10, length: 100 } })).length).toBe(10);
    expect((await store.get("big", { range: { offset: 3 << 20, length: 5 } })).length).toBe(0);
    await expect(store.get("missing", { range: { offset: 0, length: 5 } })).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(store.leanStats?.requests).toBe(4);
    expect(store.leanStats?.connects).toBe(1); // error answers keep the connection
    await store.close();
  });

  it("sends ranged GETs itself, without the SDK, keys percent-encoded (signatures: s3-protocol.test.ts)", async () => {
    const store = open();
    const key = "odd/a b+c=(1)!'*~é.bin";
    await store.put(key, Buffer.from("0123456789"));
    expect((await store.get(key, { range: { offset: 2, length: 5 } })).toString()).toBe("23456");
    expect(store.leanStats).toMatchObject({ requests: 1, direct: 1 });
    await store.close();
  });

  it("an abort while the body streams in rejects with ObjectAbortedError", async () => {
    const store = open();
    await store.put("abort", Buffer.alloc(8 << 20, 1));
    const ac = new AbortController();
    const reading = store.get("abort", {
      range: { offset: 0, length: 8 << 20 },
      into: Buffer.alloc(8 << 20),
      signal: ac.signal,
      onProgress: () => ac.abort(),
    });
    await expect(reading).rejects.toBeInstanceOf(ObjectAbortedError);
    // The pool is fine afterwards.
    expect((await store.get("abort", { range: { offset: 0, length: 3 } })).equals(Buffer.alloc(3, 1))).toBe(true);
    await store.close();
  });

  it("directGets=false has the SDK build and parse ranged GETs, still over the lean client", async () => {
    const store = open("&directGets=false");
    await store.put("k2", Buffer.from("hello"));
    expect((await store.get("k2", { range: { offset: 1, length: 3 } })).toString()).toBe("ell");
    await expect(store.get("missing", { range: { offset: 0, length: 5 } })).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(store.leanStats).toMatchObject({ requests: 2, direct: 0 });
    await store.close();
  });

  it("leanGets=false sends ranged GETs through the SDK's handler", async () => {
    const store = open("&leanGets=false");
    await store.put("k", Buffer.from("hello"));
    expect((await store.get("k", { range: { offset: 1, length: 3 } })).toString()).toBe("ell");
    expect(store.leanStats).toBeUndefined();
    await store.close();
  });
});
