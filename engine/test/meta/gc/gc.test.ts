/**
 * GC against a real in-memory store: unreferenced old chunks go, referenced ones and uploads
 * not yet committed (raced against GC in every interleaving) stay.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collectGarbage } from "../../../src/meta/gc/index.js";
import { FileObjectStore } from "../../../src/object/fs.js";
import { MemoryObjectStore } from "../../../src/object/memory.js";
import type { ObjectStore } from "../../../src/object/types.js";

const key = (id: string) => `chunks/${id.slice(0, 2)}/${id}`;
const newId = () => randomBytes(16).toString("base64url");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let n = 0;
const freshStore = () => new MemoryObjectStore(`gc-${process.pid}-${n++}`);
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const stores: [string, () => Promise<ObjectStore>][] = [
  ["memory", async () => freshStore()],
  [
    "file",
    async () => {
      const d = await mkdtemp(join(tmpdir(), "fs-gc-"));
      dirs.push(d);
      return new FileObjectStore(d, { fsync: false });
    },
  ],
];

/** A writer whose upload is slow and whose commit comes later still. */
function slowWriter(store: ObjectStore, committed: Set<string>, uploadMs: number) {
  const id = newId();
  const uploaded = sleep(uploadMs).then(() => store.put(key(id), randomBytes(1000)));
  return {
    id,
    uploaded,
    commit: async () => {
      await uploaded;
      committed.add(id);
    },
  };
}

describe.each(stores)("chunk garbage collection (%s)", (_name, open) => {
  it("deletes old unreferenced chunks only; dry run deletes nothing", async () => {
    const store = await open();
    const live = newId();
    const garbage = [newId(), newId(), newId()];
    for (const id of [live, ...garbage]) await store.put(key(id), randomBytes(100));
    await store.put("chunks/zz/not-a-chunk-key", Buffer.from("x"));
    const later = () => Date.now() + 10_000;

    const dry = await collectGarbage({ store, referenced: () => [live], graceMs: 5_000, now: later, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, scanned: 4, live: 1, deleted: 3, deletedBytes: 300 });
    expect(dry.deletedIds).toEqual([...garbage].sort());
    expect(dry.foreign).toEqual(["chunks/zz/not-a-chunk-key"]);
    for (const id of garbage) await expect(store.head(key(id))).resolves.toBeDefined();

    const real = await collectGarbage({ store, referenced: async () => new Set([live]), graceMs: 5_000, now: later });
    expect(real.deleted).toBe(3);
    for (const id of garbage) await expect(store.head(key(id))).rejects.toThrow(/not found/);
    await expect(store.head(key(live))).resolves.toBeDefined();
    await expect(store.head("chunks/zz/not-a-chunk-key")).resolves.toBeDefined();

    // Young unreferenced chunks are kept whatever else happens.
    const young = await collectGarbage({ store, referenced: () => [], graceMs: 60_000 });
    expect(young).toMatchObject({ young: 1, deleted: 0 });
  });

  it("never deletes an upload whose commit is delayed past a GC run, in any interleaving", async () => {
    const store = await open();
    const committed = new Set<string>();
    const grace = 400;
    // Old garbage, and an old committed chunk.
    const oldGarbage = newId();
    const oldLive = newId();
    await store.put(key(oldGarbage), randomBytes(10));
    await store.put(key(oldLive), randomBytes(10));
    committed.add(oldLive);
    await sleep(grace + 50);

    // (a) upload landed before GC lists, commit after GC.
    const a = slowWriter(store, committed, 0);
    await a.uploaded;
    // (b) upload lands while GC runs (between listing and the referenced set), commit after.
    const b = slowWriter(store, committed, 0);
    // (c) upload still in flight during the whole GC run, commit after.
    const c = slowWriter(store, committed, 150);

    const report = await collectGarbage({
      store,
      graceMs: grace,
      referenced: async () => {
        await b.uploaded; // b lands after the listing
        return [...committed];
      },
    });
    expect(report.deletedIds).toEqual([oldGarbage]);
    for (const w of [a, b, c]) await w.commit();
    for (const id of [a.id, b.id, c.id, oldLive]) await expect(store.head(key(id))).resolves.toBeDefined();

    // Once committed they are referenced; GC much later still keeps them and deletes the rest.
    await sleep(grace + 50);
    const stray = newId();
    await store.put(key(stray), randomBytes(10));
    const later = await collectGarbage({
      store,
      graceMs: grace,
      referenced: () => committed,
      now: () => Date.now() + grace * 2,
    });
    expect(later.deletedIds).toEqual([stray]);
    expect(later.live).toBe(4);
  });
});
