/** The conformance suite and S3-specific behaviour against a real s3rver process. */
import { ObjectRetriesExhaustedError, ObjectTransientError, openObjectStore } from "@filespaces/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type S3rverHandle, startS3rver } from "../harness/s3rver.js";
import { describeObjectStoreConformance } from "./conformance.js";

let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.stop();
});

describeObjectStoreConformance(
  "s3 (s3rver)",
  () => openObjectStore(s3.url("conformance/"), { s3: s3.credentials, retry: { baseDelayMs: 5 } }),
  {
    listObjects: 1_050,
    quirks: { listsInDirectoryOrder: true, hangsOnRangeOfEmptyObject: true, tornReadsDuringOverwrite: true },
  },
);

describe("s3 backend", () => {
  it("keeps keys relative to the URL prefix", async () => {
    const inner = await openObjectStore(s3.url("tenant-a/"), { s3: s3.credentials });
    const outer = await openObjectStore(s3.url(), { s3: s3.credentials });
    await inner.put("x/y", Buffer.from("scoped"));
    expect((await outer.get("tenant-a/x/y")).toString()).toBe("scoped");
    expect((await inner.list("x/")).objects.map((o) => o.key)).toEqual(["x/y"]);
    await Promise.all([inner.close(), outer.close()]);
  });

  it("reads a ranged GET body into the caller's buffer, reporting progress as it lands", async () => {
    const store = await openObjectStore(s3.url("into/"), { s3: s3.credentials });
    const body = Buffer.alloc(3 << 20);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
    await store.put("big", body);
    const into = Buffer.alloc(4 << 20);
    const seen: number[] = [];
    const got = await store.get("big", {
      range: { offset: 1000, length: 2 << 20 },
      into,
      onProgress: (n) => seen.push(n),
    });
    expect(got.equals(body.subarray(1000, 1000 + (2 << 20)))).toBe(true);
    expect(got.buffer).toBe(into.buffer); // no allocation of its own
    expect(seen.length).toBeGreaterThan(1); // the body arrived in several socket reads
    expect(seen.every((n, i) => i === 0 || n > seen[i - 1]!)).toBe(true);
    expect(seen.at(-1)).toBe(2 << 20);
    // a buffer too small is ignored rather than overrun
    const small = Buffer.alloc(16);
    const whole = await store.get("big", { into: small });
    expect(whole.equals(body)).toBe(true);
    expect(whole.buffer).not.toBe(small.buffer);
    await store.close();
  });

  it("maps a dead endpoint to a transient error, and the default retry layer gives up within budget", async () => {
    const dead = s3.url("", 1);
    const bare = await openObjectStore(dead, { s3: s3.credentials, retry: false });
    await expect(bare.head("k")).rejects.toBeInstanceOf(ObjectTransientError);
    let retries = 0;
    const retried = await openObjectStore(dead, {
      s3: s3.credentials,
      retry: { maxAttempts: 3, baseDelayMs: 1, onRetry: () => retries++ },
    });
    const err = await retried.head("k").catch((e) => e);
    expect(err).toBeInstanceOf(ObjectRetriesExhaustedError);
    expect(err.attempts).toBe(3);
    expect(retries).toBe(2); // exactly our attempts: the SDK itself does not retry
    await Promise.all([bare.close(), retried.close()]);
  });
});
