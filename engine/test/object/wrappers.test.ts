import {
  faulty,
  MemoryObjectStore,
  metered,
  ObjectNotFoundError,
  ObjectStoreError,
  ObjectTransientError,
  withLatency,
} from "@filespaces/engine";
import { describe, expect, it } from "vitest";

const memory = (name: string) => {
  MemoryObjectStore.reset(name);
  return new MemoryObjectStore(name);
};

describe("metered wrapper", () => {
  it("counts requests, bytes and errors per operation, in snapshots that do not change later", async () => {
    const inner = faulty(memory("meter"), { rules: [{ op: "delete", nth: 1, fault: { kind: "error" } }] });
    const store = metered(inner);
    await store.put("a", Buffer.alloc(100));
    await store.put("b", Buffer.alloc(50));
    await store.get("a");
    await store.get("a", { range: { offset: 10, length: 20 } });
    await expect(store.get("missing")).rejects.toBeInstanceOf(ObjectNotFoundError);
    await store.head("b");
    await store.list("");
    await expect(store.delete("a")).rejects.toBeInstanceOf(ObjectTransientError);
    await store.delete("a");
    const snap = store.snapshot();
    expect(snap.put).toEqual({ requests: 2, errors: 0, notFound: 0, bytesIn: 0, bytesOut: 150 });
    expect(snap.get).toEqual({ requests: 3, errors: 0, notFound: 1, bytesIn: 120, bytesOut: 0 });
    expect(snap.delete).toMatchObject({ requests: 2, errors: 1 });
    expect(snap.total).toEqual({ requests: 9, errors: 1, notFound: 1, bytesIn: 120, bytesOut: 150 });
    await store.head("b");
    expect(snap.head.requests).toBe(1);
    expect(store.snapshot().head.requests).toBe(2);
    store.reset();
    expect(store.snapshot().total.requests).toBe(0);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap); // plain data
  });
});

describe("faulty wrapper", () => {
  const run = async (seed: number) => {
    const store = faulty(memory(`faulty-${seed}`), {
      seed,
      rules: [{ op: "*", probability: 0.3, fault: { kind: "error" } }],
    });
    const outcome: string[] = [];
    for (let i = 0; i < 60; i++) {
      outcome.push(
        await store.put(`k${i}`, Buffer.from("x")).then(
          () => "ok",
          () => "fail",
        ),
      );
    }
    return outcome.join(",");
  };

  it("injects the same faults for the same seed, and others for another", async () => {
    const a = await run(7);
    expect(await run(7)).toBe(a);
    expect(await run(8)).not.toBe(a);
    expect(a).toContain("fail");
    expect(a).toContain("ok");
  });

  it("fires on the nth call, a limited number of times, for matching keys only", async () => {
    const store = faulty(memory("faulty-nth"), {
      rules: [{ op: "head", key: /^chunks\//, nth: [2, 3], times: 1, fault: { kind: "error" } }],
    });
    await store.put("chunks/a", Buffer.from("x"));
    await store.put("meta/a", Buffer.from("x"));
    await store.head("meta/a");
    await store.head("chunks/a");
    await expect(store.head("chunks/a")).rejects.toBeInstanceOf(ObjectTransientError);
    await store.head("chunks/a"); // 3rd matching call, but `times: 1` is used up
    expect(store.injected).toEqual([{ op: "head", key: "chunks/a", kind: "error", call: 2 }]);
  });

  it("raises a chosen error, truncates gets, delays, and loses put acknowledgements", async () => {
    const store = faulty(memory("faulty-kinds"), {
      rules: [
        { op: "list", nth: 1, fault: { kind: "error", error: () => new ObjectStoreError("boom") } },
        { op: "get", nth: 1, fault: { kind: "truncate", keepBytes: 3 } },
        { op: "get", nth: 2, fault: { kind: "truncate" } },
        { op: "head", nth: 1, fault: { kind: "delay", ms: 50 } },
        { op: "put", nth: 2, fault: { kind: "ackLost" } },
      ],
    });
    await expect(store.list("")).rejects.toThrow("boom");
    await store.put("k", Buffer.from("0123456789"));
    expect((await store.get("k")).toString()).toBe("012");
    expect((await store.get("k")).toString()).toBe("01234");
    const started = performance.now();
    await store.head("k");
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    await expect(store.put("k", Buffer.from("new"))).rejects.toBeInstanceOf(ObjectTransientError);
    expect((await store.get("k")).toString()).toBe("new"); // the put did happen
  });
});

describe("latency wrapper", () => {
  it("adds the per-direction latency to every call", async () => {
    const store = withLatency(memory("lat-1"), { requestMs: 20, responseMs: 30 });
    await store.put("k", Buffer.from("v"));
    for (const call of [() => store.get("k"), () => store.head("k"), () => store.list("")]) {
      const started = performance.now();
      await call();
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(48);
      expect(took).toBeLessThan(400); // generous: CI machines are loaded
    }
  });

  it("shares bandwidth between concurrent transfers while overlapping latency", async () => {
    const mib = 1024 * 1024;
    const store = withLatency(memory("lat-2"), {
      requestMs: 10,
      responseMs: 10,
      downloadBytesPerSecond: 20 * mib,
      uploadBytesPerSecond: 40 * mib,
    });
    await store.inner.put("k", Buffer.alloc(mib));
    let started = performance.now();
    await store.get("k");
    const one = performance.now() - started; // 10 + 50 + 10
    expect(one).toBeGreaterThanOrEqual(65);
    expect(one).toBeLessThan(400);
    started = performance.now();
    await Promise.all([1, 2, 3, 4].map(() => store.get("k")));
    const four = performance.now() - started; // 10 + 4 × 50 + 10: rate shared, latency not repeated
    expect(four).toBeGreaterThanOrEqual(215);
    expect(four).toBeLessThan(700);
    started = performance.now();
    await Promise.all([1, 2].map((i) => store.put(`p${i}`, Buffer.alloc(mib)))); // 10 + 2 × 25 + 10
    const puts = performance.now() - started;
    expect(puts).toBeGreaterThanOrEqual(65);
    expect(puts).toBeLessThan(400);
  });

  it("honours aborts while waiting", async () => {
    const store = withLatency(memory("lat-3"), { requestMs: 5_000 });
    const started = performance.now();
    await expect(store.head("k", { signal: AbortSignal.timeout(20) })).rejects.toThrow(/aborted/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
