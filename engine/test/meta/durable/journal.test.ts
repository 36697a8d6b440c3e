import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { IntegrityError } from "../../../src/crypto/errors.js";
import { RecoveryError } from "../../../src/meta/durable/index.js";
import { mutate, openKv } from "./helpers.js";
import { TestStore } from "./test-store.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const keysUnder = (store: TestStore, prefix: string) =>
  [...store.data.keys()].filter((k) => k.startsWith(prefix)).sort();

describe("object-store journal", () => {
  it("group-commits concurrent appends, acknowledges in order, and recovers them", async () => {
    const store = new TestStore();
    const kv = await openKv(store);
    const order: number[] = [];
    const acks = Array.from({ length: 500 }, (_, i) =>
      mutate(kv, { op: "set", key: `k${i % 37}`, value: `v${i}` }).then(() => order.push(i)),
    );
    await Promise.all(acks);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // 500 appends, one upload in flight at a time: far fewer segments than records.
    expect(kv.journal.stats.segmentsWritten).toBeLessThan(50);
    expect(kv.journal.durableVersion).toBe(500);
    const expected = kv.machine.toObject();
    await kv.journal.close();

    const again = await openKv(store.share());
    expect(again.machine.version).toBe(500);
    expect(again.machine.toObject()).toEqual(expected);
    expect(again.epoch).toBe(2);
    await again.journal.close();
  });

  it("bounds a segment's size", async () => {
    const store = new TestStore();
    const kv = await openKv(store, { maxBatchRecords: 10 });
    await Promise.all(Array.from({ length: 100 }, (_, i) => mutate(kv, { op: "set", key: `k${i}`, value: "x" })));
    expect(kv.journal.stats.segmentsWritten).toBeGreaterThanOrEqual(10);
    await kv.journal.close();
  });

  it("validates its options, naming the field", async () => {
    await expect(openKv(new TestStore(), { maxBatchRecords: 0 })).rejects.toThrow(/"maxBatchRecords"/);
    await expect(openKv(new TestStore(), { prefix: "fs1" })).rejects.toThrow(/"prefix".*ending in/);
  });

  it("rejects out-of-order appends", async () => {
    const kv = await openKv(new TestStore());
    await expect(kv.journal.append({ version: 5, record: { op: "del", key: "a" } })).rejects.toThrow(/out of order/);
    await kv.journal.close();
  });

  it("checkpoints in the background, prunes old segments, and recovers from checkpoint + tail", async () => {
    const store = new TestStore();
    const kv = await openKv(store, { checkpointEveryRecords: 100, maxBatchRecords: 20, checkpointOnClose: false });
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 60 }, (_, i) => mutate(kv, { op: "set", key: `k${i}`, value: `r${round}` })),
      );
    }
    await kv.journal.checkpoint();
    await mutate(kv, { op: "del", key: "k0" });
    expect(kv.journal.stats.checkpointsWritten).toBeGreaterThanOrEqual(2);
    expect(keysUnder(store, "meta/checkpoints/").length).toBeLessThanOrEqual(2);
    // Segments before the older retained checkpoint are gone.
    const segs = keysUnder(store, "meta/journal/");
    expect(segs[0]).not.toBe("meta/journal/0000000000000000");
    const expected = kv.machine.toObject();
    kv.lease.stopRenewing();

    const again = await openKv(store.share(), { takeover: true, lease: { now: () => Date.now() + 60_000 } });
    expect(again.recovery.checkpoint?.version).toBe(300);
    expect(again.recovery.recordsReplayed).toBe(1);
    expect(again.machine.toObject()).toEqual(expected);
    await again.journal.close();
  });

  it("seals everything: no plaintext in the store, swapped objects are detected", async () => {
    const store = new TestStore();
    const kv = await openKv(store, { maxBatchRecords: 1, checkpointOnClose: false });
    for (let i = 0; i < 5; i++) await mutate(kv, { op: "set", key: `secret-name-${i}`, value: "secret-value" });
    await kv.journal.close();
    for (const [, o] of store.data) expect(o.body.includes("secret")).toBe(false);

    const segs = keysUnder(store, "meta/journal/");
    const a = store.data.get(segs[1]!)!;
    store.data.set(segs[1]!, store.data.get(segs[2]!)!);
    store.data.set(segs[2]!, a);
    for (const k of keysUnder(store, "meta/checkpoints/")) store.data.delete(k);
    await expect(openKv(store.share())).rejects.toBeInstanceOf(IntegrityError);
  });

  it("a corrupt acknowledged segment is an IntegrityError, a hole is a RecoveryError", async () => {
    const store = new TestStore();
    const kv = await openKv(store, { maxBatchRecords: 1, checkpointOnClose: false });
    for (let i = 0; i < 5; i++) await mutate(kv, { op: "set", key: `k${i}`, value: "v" });
    await kv.journal.close();
    const segs = keysUnder(store, "meta/journal/");
    const victim = store.data.get(segs[2]!)!;
    const flipped = Buffer.from(victim.body);
    flipped[flipped.length - 5]! ^= 1;
    store.data.set(segs[2]!, { ...victim, body: flipped });
    await expect(openKv(store.share())).rejects.toBeInstanceOf(IntegrityError);
    store.data.delete(segs[2]!);
    await expect(openKv(store.share())).rejects.toBeInstanceOf(RecoveryError);
  });

  it("falls back to an older checkpoint when the newest fails to authenticate", async () => {
    const store = new TestStore();
    const kv = await openKv(store, { checkpointOnClose: false });
    await mutate(kv, { op: "set", key: "a", value: "1" });
    await kv.journal.checkpoint();
    await mutate(kv, { op: "set", key: "b", value: "2" });
    await kv.journal.checkpoint();
    await mutate(kv, { op: "set", key: "c", value: "3" });
    await kv.journal.close();
    const [older, newest] = keysUnder(store, "meta/checkpoints/");
    const o = store.data.get(newest!)!;
    store.data.set(newest!, { ...o, body: Buffer.concat([o.body, Buffer.from("x")]) });
    const again = await openKv(store.share());
    expect(again.recovery.checkpoint?.version).toBe(Number(older!.split("/").at(-1)));
    expect(again.recovery.skippedCheckpoints.map((c) => c.key)).toEqual([newest]);
    expect(again.machine.toObject()).toEqual({ a: "1", b: "2", c: "3" });
    await again.journal.close();
  });

  it("uses the local cache but never trusts it over the store (empty or tampered cache = same state)", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "fs-meta-cache-"));
    dirs.push(cacheDir);
    const store = new TestStore();
    const kv = await openKv(store, { cacheDir });
    for (let i = 0; i < 50; i++) await mutate(kv, { op: "set", key: `k${i}`, value: `v${i}` });
    await kv.journal.checkpoint();
    for (let i = 0; i < 10; i++) await mutate(kv, { op: "del", key: `k${i}` });
    const expected = kv.machine.toObject();
    await kv.journal.close();
    expect((await readdir(cacheDir)).length).toBeGreaterThan(0);

    const warm = store.share();
    const a = await openKv(warm, { cacheDir });
    expect(a.machine.toObject()).toEqual(expected);
    await a.journal.close();

    for (const f of await readdir(cacheDir)) await writeFile(join(cacheDir, f), "garbage");
    const b = await openKv(store.share(), { cacheDir });
    expect(b.machine.toObject()).toEqual(expected);
    await b.journal.close();

    const empty = await mkdtemp(join(tmpdir(), "fs-meta-cache-"));
    dirs.push(empty);
    const c = await openKv(store.share(), { cacheDir: empty });
    expect(c.machine.toObject()).toEqual(expected);
    await c.journal.close();
  });
});
