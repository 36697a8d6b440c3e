/** fsck of the metadata objects on a journal written by the real durability layer. */
import { describe, expect, it } from "vitest";
import { checkMetadata } from "../../../src/meta/fsck/index.js";
import { cipher, mutate, openKv } from "../durable/helpers.js";
import { TestStore } from "../durable/test-store.js";

describe("metadata fsck", () => {
  it("is healthy on a healthy journal and names damaged segments and holes", async () => {
    const store = new TestStore();
    const kv = await openKv(store, { maxBatchRecords: 1, checkpointOnClose: false });
    for (let i = 0; i < 6; i++) await mutate(kv, { op: "set", key: `k${i}`, value: "v" });
    await kv.journal.checkpoint();
    for (let i = 0; i < 4; i++) await mutate(kv, { op: "del", key: `k${i}` });
    await kv.journal.close();
    const s = { store, cipher, prefix: "" };
    const healthy = await checkMetadata(s);
    expect(healthy).toMatchObject({ healthy: true, badSegments: [], gaps: [] });
    expect(healthy.checkpoints).toHaveLength(1);

    const segs = [...store.data.keys()].filter((k) => k.startsWith("meta/journal/")).sort();
    const victim = store.data.get(segs[1]!)!;
    store.data.set(segs[1]!, { ...victim, body: Buffer.concat([victim.body.subarray(0, 20), Buffer.alloc(40)]) });
    store.data.delete(segs[2]!); // a hole (a missing tail would just be a shorter log)
    const damaged = await checkMetadata(s);
    expect(damaged.healthy).toBe(false);
    expect(damaged.badSegments.map((b) => b.seq)).toEqual([Number(segs[1]!.split("/").at(-1))]);
    expect(damaged.gaps).toHaveLength(1);
  });
});
