/**
 * The small parts behind local creates, on their own: what a directory known here answers and
 * for how long (DirIndex), what the service said of single names (NameMemory), reserved numbers
 * and refills (InodePool), and the namespace queue's ordering, retries and failure reporting
 * (PendingQueue) — with real timers, no service.
 */
import { describe, expect, it } from "vitest";
import { MetaError } from "../../src/meta/errors.js";
import { DirIndex } from "../../src/vfs/fs-dirs.js";
import { InodePool } from "../../src/vfs/fs-inode-pool.js";
import { NameMemory } from "../../src/vfs/fs-name-memory.js";
import { PendingQueue, QueuedChangeFailedError } from "../../src/vfs/fs-pending.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("DirIndex", () => {
  it("answers names of listed and made directories until the knowledge expires; invalidation forgets", async () => {
    const d = new DirIndex(50, 50);
    expect(d.answer(1, "a")).toBeUndefined();
    d.listed(1, new Map([["a", 10]]));
    expect(d.answer(1, "a")).toEqual({ vino: 10 });
    expect(d.answer(1, "b")).toBe("absent");
    d.add(1, "b", 11);
    d.remove(1, "a");
    expect(d.answer(1, "a")).toBe("absent");
    expect([...(d.entries(1) ?? [])]).toEqual([["b", 11]]);
    d.made(2); // queued mkdir: known until it lands, however long
    await sleep(80);
    expect(d.answer(1, "b")).toBeUndefined();
    expect(d.answer(2, "x")).toBe("absent");
    d.landed(2);
    expect(d.complete(2)).toBe(true);
    await sleep(80);
    expect(d.complete(2)).toBe(false);
    d.made(3);
    d.invalidate(3);
    expect(d.answer(3, "x")).toBeUndefined();
  });

  it("evicts the oldest listed directories beyond its name budget, never a queued mkdir's", () => {
    const d = new DirIndex(60_000, 60_000, 3);
    d.made(1);
    d.add(1, "a", 2);
    d.add(1, "b", 3);
    d.listed(5, new Map([["x", 6]]));
    d.listed(7, new Map([["y", 8]]));
    expect(d.complete(1)).toBe(true);
    expect(d.complete(5)).toBe(false);
    expect(d.complete(7)).toBe(true);
  });
});

describe("NameMemory", () => {
  it("answers a resolved name within the TTL, keeps the last answer after it; absence is used once", async () => {
    const m = new NameMemory(50);
    m.resolved(1, "a", 10);
    expect(m.recent(1, "a")).toBe(10);
    expect(m.recent(2, "a")).toBeUndefined();
    await sleep(80);
    expect(m.recent(1, "a")).toBeUndefined();
    expect(m.last(1, "a")).toBe(10); // serves while the service is unreachable
    m.forget(1, "a");
    expect(m.last(1, "a")).toBeUndefined();
    m.resolved(1, "b", 11);
    m.absent(1, "b"); // gone at the service: the old answer must not serve
    expect(m.last(1, "b")).toBeUndefined();
    expect(m.takeAbsent(1, "b")).toBe(true);
    expect(m.takeAbsent(1, "b")).toBe(false);
    m.absent(1, "c");
    await sleep(80);
    expect(m.takeAbsent(1, "c")).toBe(false);
  });
});

describe("InodePool", () => {
  it("hands out reserved numbers in order, refills below the low-water mark, backs off after a failure", async () => {
    let next = 100;
    let calls = 0;
    let fail = false;
    const pool = new InodePool(
      async (count) => {
        calls++;
        if (fail) throw new MetaError("UNAVAILABLE", "down");
        const first = next;
        next += count;
        return { first, count };
      },
      { block: 4, lowWater: 2 },
    );
    expect(pool.take()).toBeUndefined(); // nothing yet: a refill starts
    await pool.refill();
    const got = [pool.take(), pool.take(), pool.take()];
    await sleep(0);
    expect(got.slice(0, 2)).toEqual([100, 101]);
    expect(pool.available()).toBeGreaterThanOrEqual(1);
    fail = true;
    while (pool.take() !== undefined);
    const before = calls;
    await sleep(10);
    for (let i = 0; i < 10; i++) pool.take();
    await sleep(10);
    expect(calls - before).toBeLessThanOrEqual(1);
    await expect(pool.next()).rejects.toThrow(/down/);
  });
});

describe("PendingQueue", () => {
  it("runs a change after its dependencies, retries while unreachable, reports a refusal to later waits", async () => {
    const q = new PendingQueue(() => {}, { maxInFlight: 8, maxQueued: 100, retryMaxMs: 20 });
    const order: string[] = [];
    let dirAttempts = 0;
    q.add({
      vino: 2,
      after: [],
      what: "mkdir",
      creates: true,
      run: async () => {
        if (++dirAttempts < 3) throw new MetaError("UNAVAILABLE", "down");
        order.push("dir");
      },
    });
    q.add({ vino: 3, parent: 2, after: [2], what: "create", creates: true, run: async () => void order.push("file") });
    q.add({
      vino: 4,
      after: [],
      what: "refused",
      creates: true,
      run: async () => {
        throw new MetaError("EDQUOT", "quota");
      },
    });
    expect(q.pending(3)).toBe(true);
    await q.settleChildren(2);
    expect(order).toEqual(["dir", "file"]);
    await expect(q.settle([4])).rejects.toBeInstanceOf(QueuedChangeFailedError);
    await q.drain();
    expect(q.stats()).toMatchObject({ queued: 0, landed: 2, failed: 1 });
    expect(q.stats().retries).toBe(2);
  });
});
