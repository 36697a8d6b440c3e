import {
  backoffDelay,
  faulty,
  MemoryObjectStore,
  ObjectAbortedError,
  ObjectNotFoundError,
  ObjectRetriesExhaustedError,
  ObjectTransientError,
  withRetry,
} from "@filespaces/engine";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const memory = (name: string) => {
  MemoryObjectStore.reset(name);
  return new MemoryObjectStore(name);
};

describe("retry wrapper", () => {
  it("retries transient failures and then succeeds", async () => {
    const inner = faulty(memory("retry-1"), { rules: [{ op: "get", nth: [1, 2], fault: { kind: "error" } }] });
    await inner.inner.put("k", Buffer.from("v"));
    const delays: number[] = [];
    const store = withRetry(inner, { baseDelayMs: 1, onRetry: (e) => delays.push(e.delayMs) });
    expect((await store.get("k")).toString()).toBe("v");
    expect(delays).toHaveLength(2);
  });

  it("gives up after maxAttempts with the attempts and the last cause", async () => {
    const inner = faulty(memory("retry-2"), { rules: [{ op: "*", probability: 1, fault: { kind: "error" } }] });
    const store = withRetry(inner, { maxAttempts: 4, baseDelayMs: 1 });
    const err = await store.head("k").catch((e) => e);
    expect(err).toBeInstanceOf(ObjectRetriesExhaustedError);
    expect(err.attempts).toBe(4);
    expect(err.cause).toBeInstanceOf(ObjectTransientError);
    expect(err.message).toMatch(/after 4 attempts \(k\)/);
    expect(inner.injected).toHaveLength(4);
  });

  it("stops early when the next sleep would overrun the time budget", async () => {
    const inner = faulty(memory("retry-3"), { rules: [{ op: "*", probability: 1, fault: { kind: "error" } }] });
    const store = withRetry(inner, { maxAttempts: 100, baseDelayMs: 40, maxElapsedMs: 100, random: () => 0.99 });
    const started = Date.now();
    const err = await store.head("k").catch((e) => e);
    expect(err).toBeInstanceOf(ObjectRetriesExhaustedError);
    expect(err.attempts).toBeLessThanOrEqual(3); // 39 ms, then 79 ms would pass 100 ms
    expect(Date.now() - started).toBeLessThan(400);
  });

  it("passes non-transient errors through on the first attempt", async () => {
    const inner = faulty(memory("retry-4"), { rules: [] });
    const store = withRetry(inner, { baseDelayMs: 1 });
    await expect(store.get("missing")).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it("waits longer for throttling than for other transient errors", async () => {
    const throttle = () => new ObjectTransientError("slow down", "k", true);
    const inner = faulty(memory("retry-5"), {
      rules: [{ op: "*", nth: 1, fault: { kind: "error", error: throttle } }],
    });
    await inner.inner.put("k", Buffer.from("v"));
    const delays: number[] = [];
    const store = withRetry(inner, {
      throttledBaseDelayMs: 30,
      random: () => 0.5,
      onRetry: (e) => delays.push(e.delayMs),
    });
    await store.get("k");
    expect(delays).toEqual([15]);
  });

  it("rejects with ObjectAbortedError when aborted during backoff, without waiting it out", async () => {
    const inner = faulty(memory("retry-6"), { rules: [{ op: "*", probability: 1, fault: { kind: "error" } }] });
    const store = withRetry(inner, { baseDelayMs: 10_000, random: () => 0.99 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await expect(store.get("k", { signal: controller.signal })).rejects.toBeInstanceOf(ObjectAbortedError);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(inner.injected).toHaveLength(1);
  });

  it("keeps full-jitter delays within [0, min(max, base·2^(n-1)))", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, base, max, r) => {
          const d = backoffDelay(attempt, base, max, () => r);
          const ceiling = Math.min(max, base * 2 ** (attempt - 1));
          return d >= 0 && d < ceiling + 1e-9 && Number.isInteger(d);
        },
      ),
    );
    expect(backoffDelay(3, 100, 10_000, () => 0)).toBe(0);
    expect(backoffDelay(3, 100, 10_000, () => 0.999)).toBe(399);
    expect(backoffDelay(30, 100, 5_000, () => 0.999)).toBe(4995);
  });
});
