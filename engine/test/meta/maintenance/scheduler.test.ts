/** The GC scheduler on a real in-memory store: it runs on its interval, never overlaps, stops cleanly. */
import { randomBytes } from "node:crypto";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { startMaintenance } from "../../../src/meta/maintenance/index.js";
import { MemoryObjectStore } from "../../../src/object/memory.js";

const key = (id: string) => `chunks/${id.slice(0, 2)}/${id}`;
const newId = () => randomBytes(16).toString("base64url");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let n = 0;

async function storeWith(ids: string[]) {
  const store = new MemoryObjectStore(`maint-${process.pid}-${n++}`);
  for (const id of ids) await store.put(key(id), randomBytes(100));
  return store;
}

describe("GC scheduler", () => {
  it("runs on its interval and deletes only unreferenced chunks past the grace period", async () => {
    const [live, dead] = [newId(), newId()];
    const store = await storeWith([live, dead]);
    const registry = new Registry();
    const lines: string[] = [];
    const m = startMaintenance({
      store,
      referenced: () => [live],
      intervalMs: 20,
      firstRunDelayMs: 0,
      graceMs: 0,
      registry,
      log: (l) => lines.push(l),
    });
    try {
      await expect.poll(() => m.stats.runs, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
      expect(m.stats.lastReport).toMatchObject({ scanned: 1, live: 1, deleted: 0 });
      await expect(store.head(key(live))).resolves.toBeDefined();
      await expect(store.head(key(dead))).rejects.toThrow(/not found/);
      expect(lines[0]).toMatch(/^gc: deleted 1 chunk\(s\) \(100 B\) of 2 scanned; 1 live, 0 young/);
      const text = await registry.metrics();
      expect(text).toMatch(/filespace_gc_deleted_chunks_total 1\b/);
      expect(text).toMatch(/filespace_gc_runs_total [3-9]/);
    } finally {
      await m.stop();
    }
  });

  it("keeps young chunks (grace) and deletes nothing in a dry run", async () => {
    const young = newId();
    const store = await storeWith([young]);
    const m = startMaintenance({ store, referenced: () => [], intervalMs: 60_000, graceMs: 60_000 });
    const r = await m.runNow();
    expect(r).toMatchObject({ young: 1, deleted: 0 });
    await m.stop();
    const dry = startMaintenance({ store, referenced: () => [], intervalMs: 60_000, graceMs: 0, dryRun: true });
    expect(await dry.runNow()).toMatchObject({ dryRun: true, deleted: 1, deletedIds: [young] });
    await expect(store.head(key(young))).resolves.toBeDefined();
    await dry.stop();
  });

  it("never overlaps runs: runNow joins the run in flight and the timer skips while one runs", async () => {
    const store = await storeWith([newId()]);
    let active = 0;
    let maxActive = 0;
    let calls = 0;
    const m = startMaintenance({
      store,
      intervalMs: 5,
      firstRunDelayMs: 0,
      graceMs: 60_000,
      referenced: async () => {
        calls++;
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(60);
        active--;
        return [];
      },
    });
    try {
      await sleep(10);
      const a = m.runNow();
      const b = m.runNow();
      expect(a).toBe(b);
      await a;
      await sleep(150);
      expect(maxActive).toBe(1);
      expect(calls).toBeGreaterThanOrEqual(2);
    } finally {
      await m.stop();
    }
  });

  it("stop aborts and waits for the run in flight; no run starts afterwards", async () => {
    const store = await storeWith([newId()]);
    let calls = 0;
    let release!: () => void;
    const m = startMaintenance({
      store,
      intervalMs: 5,
      firstRunDelayMs: 0,
      graceMs: 0,
      referenced: async () => {
        calls++;
        await new Promise<void>((r) => (release = r));
        return [];
      },
    });
    await expect.poll(() => calls).toBe(1);
    let stopped = false;
    const stopping = m.stop().then(() => (stopped = true));
    await sleep(20);
    expect(stopped).toBe(false); // still waiting for the run in flight
    release();
    await stopping;
    await sleep(50);
    expect(calls).toBe(1);
    await expect(m.runNow()).rejects.toThrow(/stopped/);
  });

  it("counts a failed run and keeps the schedule going", async () => {
    const store = await storeWith([newId()]);
    let calls = 0;
    const m = startMaintenance({
      store,
      intervalMs: 10,
      firstRunDelayMs: 0,
      referenced: () => {
        calls++;
        if (calls === 1) throw new Error("service unavailable");
        return [];
      },
    });
    try {
      await expect.poll(() => m.stats.runs, { timeout: 5000 }).toBeGreaterThanOrEqual(1);
      expect(m.stats.failures).toBe(1);
      expect(m.stats.lastError).toBeUndefined();
    } finally {
      await m.stop();
    }
  });

  it("rejects nonsense options naming the field", () => {
    expect(() => startMaintenance({ store: new MemoryObjectStore("x"), referenced: () => [], graceMs: -1 })).toThrow(
      /graceMs/,
    );
  });
});
