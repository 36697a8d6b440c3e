/**
 * The crash loop shared by the unit crash test (memory://, file://) and the real-backend itest:
 * many instances in a row on one store, each killed at a random moment (puts dropped, replies
 * lost, uploads hanging, in-flight uploads landing or not), the next one taking over. Invariant
 * after every restart: the state is exactly the submitted history up to some version V with
 * V ≥ every acknowledged version — nothing acknowledged is lost, nothing is half-applied.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import type { ObjectStore } from "../../../src/object/types.js";
import { FaultyStore } from "./faulty-store.js";
import { Clock, openKv } from "./helpers.js";
import type { KvRecord } from "./kv-machine.js";
import type { TestStore } from "./test-store.js";

const dirs: string[] = [];
/** Remove the temp dirs made by crash loops so far (call from afterAll). */
export async function cleanupCrashDirs(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}
export const tempDir = async (tag: string) => {
  const d = await mkdtemp(join(tmpdir(), `fs-meta-${tag}-`));
  dirs.push(d);
  return d;
};

function model(history: KvRecord[], version: number): Record<string, string> {
  const m = new Map<string, string>();
  for (const r of history.slice(0, version)) {
    if (r.op === "set") m.set(r.key, r.value);
    else m.delete(r.key);
  }
  return Object.fromEntries([...m].sort());
}

export async function crashLoop(inner: ObjectStore, conditionalPut: boolean, rounds: number, seed: number) {
  let s = seed >>> 0;
  // A seeded LCG: a failing run is reproducible from its seed.
  const rand = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const clock = new Clock();
  const history: KvRecord[] = [];
  let acked = 0;
  let totalOps = 0;
  let startupFailures = 0;
  const persistentCache = await tempDir("cache");
  for (let round = 0; round <= rounds; round++) {
    const handle = new FaultyStore(inner, { conditionalPut });
    handle.putFault = (key) => {
      if (!key.startsWith("meta/journal/") && !key.startsWith("meta/checkpoints/")) return undefined;
      const r = rand();
      return r < 0.04 ? "drop" : r < 0.08 ? "lose-reply" : r < 0.09 ? "hang" : undefined;
    };
    clock.passLeaseTtl();
    // Every third restart is on an empty local disk.
    const cacheDir = round % 3 === 0 ? await tempDir("empty") : persistentCache;
    const kv = await openKv(handle as unknown as TestStore, {
      clock,
      takeover: true,
      cacheDir,
      checkpointEveryRecords: 60,
      maxBatchRecords: 16,
      putAttempts: 2,
      putTimeoutMs: 50,
    }).catch(() => undefined);
    if (!kv) {
      // Startup itself hit the injected faults: like a crash loop, the next instance tries again.
      // The final round's checks need an instance that started, so it is tried again too (a
      // startup failing there used to fall out of the loop: "unreachable" under CI load).
      startupFailures++;
      if (startupFailures > 100) throw new Error(`startup failed ${startupFailures} times`);
      if (round === rounds) round--;
      continue;
    }
    const v = kv.machine.version;
    expect(v).toBeGreaterThanOrEqual(acked);
    expect(v).toBeLessThanOrEqual(history.length);
    expect(kv.machine.toObject()).toEqual(model(history, v));
    history.length = v; // what was lost was never acknowledged
    if (round === rounds) {
      await kv.journal.close();
      return { totalOps, startupFailures, history: history.length };
    }

    const ops = 40 + Math.floor(rand() * 160);
    const crashAt = Math.floor(rand() * ops);
    for (let i = 0; i < ops; i++) {
      if (i === crashAt) break;
      const record: KvRecord =
        rand() < 0.2
          ? { op: "del", key: `k${Math.floor(rand() * 50)}` }
          : { op: "set", key: `k${Math.floor(rand() * 50)}`, value: `r${round}i${i}` };
      const entry = kv.machine.apply(record);
      history[entry.version - 1] = record;
      totalOps++;
      kv.journal.append(entry).then(
        () => {
          acked = Math.max(acked, entry.version);
        },
        () => {},
      );
      if (rand() < 0.3) await new Promise((r) => (rand() < 0.5 ? setImmediate(r) : setTimeout(r, 1)));
      if (kv.journal.failure) break;
    }
    handle.crash(rand() < 0.5);
    kv.lease.stopRenewing();
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error("unreachable");
}
