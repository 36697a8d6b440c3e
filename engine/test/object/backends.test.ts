import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FileObjectStore,
  faulty,
  MemoryObjectStore,
  metered,
  openObjectStore,
  withLatency,
  withRetry,
} from "@filespaces/engine";
import { afterAll, describe, expect, it } from "vitest";
import { lockFileOf } from "../../src/object/fs-lock.js";
import { describeObjectStoreConformance } from "./conformance.js";

describeObjectStoreConformance("memory", () => openObjectStore("memory://conformance"));

// The wrappers must keep the contract: the whole suite through all of them, with one call
// in five failing transiently underneath the retry layer (deterministic seed).
describeObjectStoreConformance("memory through metered(latency(retry(faulty)))", async () =>
  metered(
    withLatency(
      withRetry(
        faulty(await openObjectStore("memory://conformance-wrapped"), {
          seed: 42,
          rules: [{ op: "*", probability: 0.2, fault: { kind: "error" } }],
        }),
        { baseDelayMs: 1, maxAttempts: 12 },
      ),
      { requestMs: 1, responseMs: 1 },
    ),
  ),
);

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describeObjectStoreConformance("file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "fs-objstore-"));
  dirs.push(dir);
  return openObjectStore(`file://${dir}`);
});

describe("memory store", () => {
  it("shares data between instances opened with the same name", async () => {
    const a = await openObjectStore("memory://shared-test");
    await a.put("k", Buffer.from("v"));
    const b = await openObjectStore("memory://shared-test");
    expect((await b.get("k")).toString()).toBe("v");
    MemoryObjectStore.reset("shared-test");
    const c = await openObjectStore("memory://shared-test");
    await expect(c.head("k")).rejects.toThrow(/not found/);
  });
});

describe("memory store listing index", () => {
  it("stays correct across inserts, overwrites and deletes, and for cursors outside the prefix", async () => {
    MemoryObjectStore.reset("index-test");
    const store = new MemoryObjectStore("index-test");
    for (const k of ["b/2", "a/1", "b/1", "c/1"]) await store.put(k, Buffer.from(k));
    expect((await store.list("b/")).objects.map((o) => o.key)).toEqual(["b/1", "b/2"]);
    await store.put("b/0", Buffer.from("new"));
    await store.put("b/1", Buffer.from("overwrite"));
    await store.delete("b/2");
    expect((await store.list("b/")).objects.map((o) => o.key)).toEqual(["b/0", "b/1"]);
    expect((await store.list("b/", { cursor: "a/9" })).objects.map((o) => o.key)).toEqual(["b/0", "b/1"]);
    expect((await store.list("b/", { cursor: "b/0" })).objects.map((o) => o.key)).toEqual(["b/1"]);
    expect((await store.list("b/", { cursor: "c" })).objects).toEqual([]);
  });
});

describe("file store", () => {
  it("never leaves temp files visible after puts, including failed create-only puts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fs-objstore-"));
    dirs.push(dir);
    const store = await openObjectStore(`file://${dir}`);
    await store.put("x/one", Buffer.from("1"));
    await expect(store.put("x/one", Buffer.from("2"), { ifNoneMatch: "*" })).rejects.toThrow(/precondition/);
    await store.put("x/one", Buffer.from("3"));
    expect(await readdir(join(dir, "x"))).toEqual(["one"]);
    expect((await store.list("")).objects.map((o) => o.key)).toEqual(["x/one"]);
  });

  it("makes ifMatch atomic across two instances on the same directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fs-objstore-"));
    dirs.push(dir);
    const [a, b] = await Promise.all([openObjectStore(`file://${dir}`), openObjectStore(`file://${dir}`)]);
    const { etag } = await a.put("cas", Buffer.from("base"));
    const results = await Promise.allSettled(
      [a, b, a, b].map((s, i) => s.put("cas", Buffer.from(`w${i}`), { ifMatch: etag })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("gives every put a distinct etag across same-size rewrites and deletes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fs-objstore-"));
    dirs.push(dir);
    const store = await openObjectStore(`file://${dir}?fsync=false`);
    const etags = new Set<string>();
    for (let i = 0; i < 200; i++) {
      etags.add((await store.put("same", Buffer.from("same size"))).etag);
      if (i % 2) await store.delete("same"); // frees the inode so the kernel may hand it out again
    }
    expect(etags.size).toBe(200);
  });

  it("sweeps temp files a crashed writer left behind, but only stale ones", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fs-objstore-"));
    dirs.push(dir);
    const store = new FileObjectStore(dir);
    await store.put("chunks/ab/one", Buffer.from("1"));
    const stale = join(dir, "chunks/ab/.fs-tmp-deadbeef");
    const fresh = join(dir, "chunks/.fs-tmp-cafe");
    await writeFile(stale, "partial");
    await writeFile(fresh, "in progress");
    const hourAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(stale, hourAgo, hourAgo);
    expect(await store.removeStaleTempFiles()).toBe(1);
    expect((await readdir(join(dir, "chunks/ab"))).sort()).toEqual(["one"]);
    expect(await readdir(join(dir, "chunks"))).toContain(".fs-tmp-cafe");
    expect((await store.list("")).objects.map((o) => o.key)).toEqual(["chunks/ab/one"]);
  });

  it("breaks a lock file left by a crashed process, and waits for a live one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fs-objstore-"));
    dirs.push(dir);
    const store = await openObjectStore(`file://${dir}?fsync=false`);
    await store.put("k", Buffer.from("v1"));
    const lock = lockFileOf(join(dir, "k"));
    await writeFile(lock, "");
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    await store.put("k", Buffer.from("v2")); // stale: broken at once
    await writeFile(lock, ""); // fresh: a live holder
    let done = false;
    const pending = store.put("k", Buffer.from("v3")).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    await rm(lock);
    await pending;
    expect((await store.get("k")).toString()).toBe("v3");
    expect(await readdir(dir)).toEqual(["k"]);
  });

  it("refuses a key that is also a prefix of other keys, with a clear error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fs-objstore-"));
    dirs.push(dir);
    const store = await openObjectStore(`file://${dir}`);
    await store.put("a/b", Buffer.from("1"));
    await expect(store.put("a", Buffer.from("2"))).rejects.toThrow(/prefix of other keys/);
    await expect(store.put("a/b/c", Buffer.from("2"))).rejects.toThrow(/prefix of other keys/);
    await expect(store.get("a")).rejects.toThrow(/not found/);
  });
});

describe("openObjectStore URL validation", () => {
  it.each([
    ["nope://x", /unsupported object store URL scheme "nope:".*file:\/\//],
    ["not a url", /invalid object store URL/],
    ["", /non-empty/],
    ["file://host/dir", /host: expected file:\/\/\/absolute/],
    ["file:///tmp/x?fsync=maybe", /query\.fsync: expected true or false/],
    ["memory://bad name!", /invalid object store URL/],
    ["s3://B_ad/prefix", /bucket: expected an S3 bucket name/],
    ["s3://bucket/p?endpoint=notaurl", /query\.endpoint: expected an http/],
    ["s3://bucket/p?pathStyle=yes", /query\.pathStyle: expected true or false/],
    ["s3://bucket/p?bogus=1", /query/],
    ["s3://bucket/a//b", /invalid object key/],
    ["azure://Bad_Container/x", /container: expected an Azure container name/],
  ])("rejects %s", async (url, message) => {
    await expect(openObjectStore(url)).rejects.toThrow(message);
  });

  it("needs Azure credentials and says which", async () => {
    await expect(openObjectStore("azure://container/p", { env: {} })).rejects.toThrow(
      /credentials: expected AZURE_STORAGE_CONNECTION_STRING/,
    );
  });

  it("parses s3 URLs into prefix, region, path style and the conditional-put opt-in", async () => {
    const store = await openObjectStore(
      "s3://my-bucket/some/prefix/?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1&conditionalPut=true",
      { retry: false, s3: { accessKeyId: "a", secretAccessKey: "b" } },
    );
    expect(store.description).toBe("s3://my-bucket/some/prefix/ at http://127.0.0.1:9000");
    expect(store.capabilities.conditionalPut).toBe(true);
    await store.close();
    const plain = await openObjectStore("s3://my-bucket", { env: {} });
    expect(plain.capabilities.conditionalPut).toBe(false);
    await plain.close();
  });
});
