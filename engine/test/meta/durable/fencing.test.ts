import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { FencedError, ServiceAlreadyRunningError } from "../../../src/meta/durable/index.js";
import { Clock, mutate, openKv } from "./helpers.js";
import { TestStore } from "./test-store.js";

describe("single service and fencing", () => {
  it("a second service refuses to start while the lease is fresh, naming the holder", async () => {
    const store = new TestStore();
    const first = await openKv(store);
    const err = await openKv(store.share(), { takeover: true }).catch((e) => e);
    expect(err).toBeInstanceOf(ServiceAlreadyRunningError);
    expect(err.message).toContain(hostname());
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(err.message).toMatch(/already served/);
    // The running one is untouched.
    await mutate(first, { op: "set", key: "a", value: "1" });
    await first.journal.close();
    // After a clean close the next one starts without takeover.
    const next = await openKv(store.share());
    expect(next.machine.toObject()).toEqual({ a: "1" });
    await next.journal.close();
  });

  it("an expired lease (crashed holder) needs an explicit takeover", async () => {
    const clock = new Clock();
    const store = new TestStore();
    const crashed = await openKv(store, { clock });
    crashed.lease.stopRenewing();
    clock.passLeaseTtl();
    const err = await openKv(store.share(), { clock }).catch((e) => e);
    expect(err).toBeInstanceOf(ServiceAlreadyRunningError);
    expect(err.message).toMatch(/expired.*takeover/);
    const next = await openKv(store.share(), { clock, takeover: true });
    expect(next.epoch).toBe(crashed.epoch + 1);
    await next.journal.close();
  });

  for (const conditionalPut of [true, false]) {
    it(`a zombie is fenced after a newer epoch starts (conditionalPut=${conditionalPut})`, async () => {
      const clock = new Clock();
      const store = new TestStore({ conditionalPut });
      const zombie = await openKv(store, { clock });
      zombie.lease.stopRenewing(); // paused (GC pause, partition): it does not notice the takeover
      for (let i = 0; i < 20; i++) await mutate(zombie, { op: "set", key: `k${i}`, value: "old" });

      clock.passLeaseTtl();
      const fresh = await openKv(store.share(), { clock, takeover: true, checkpointOnClose: false });
      expect(fresh.machine.version).toBe(20);
      expect(fresh.epoch).toBeGreaterThan(zombie.epoch);

      // The zombie wakes up and tries to commit: never acknowledged.
      const late = mutate(zombie, { op: "set", key: "k0", value: "zombie" });
      await expect(late).rejects.toBeInstanceOf(FencedError);
      await expect(mutate(zombie, { op: "set", key: "k1", value: "zombie" })).rejects.toBeInstanceOf(FencedError);
      expect(zombie.journal.failure).toBeInstanceOf(FencedError);

      await mutate(fresh, { op: "set", key: "k2", value: "new" });
      await fresh.journal.close();
      const after = await openKv(store.share(), { clock });
      expect(after.machine.map.get("k0")).toBe("old");
      expect(after.machine.map.get("k1")).toBe("old");
      expect(after.machine.map.get("k2")).toBe("new");
      expect(after.machine.version).toBe(21);
      // Without conditional put the zombie overwrote the new epoch's start segment: recovery drops it.
      expect(after.recovery.segmentsDropped).toBe(conditionalPut ? 0 : 1);
      await after.journal.close();
    });
  }

  it("a zombie's segment that landed before the new epoch claimed its seq is kept (it was acknowledged)", async () => {
    const clock = new Clock();
    const store = new TestStore();
    const zombie = await openKv(store, { clock });
    zombie.lease.stopRenewing();
    await mutate(zombie, { op: "set", key: "a", value: "1" });
    clock.passLeaseTtl();
    // The zombie's upload lands while the new instance is recovering (between list and claim).
    let landed: Promise<void> | undefined;
    const fresh = store.share();
    const origList = fresh.list.bind(fresh);
    fresh.list = async (prefix, options) => {
      const page = await origList(prefix, options);
      if (prefix === "meta/journal/" && !landed) landed = mutate(zombie, { op: "set", key: "b", value: "2" });
      await landed;
      return page;
    };
    const next = await openKv(fresh, { clock, takeover: true });
    await expect(landed).resolves.toBeUndefined();
    expect(next.machine.toObject()).toEqual({ a: "1", b: "2" });
    await expect(mutate(zombie, { op: "set", key: "c", value: "3" })).rejects.toBeInstanceOf(FencedError);
    await next.journal.close();
  });

  it("concurrent lease writes of one instance never fence it (regression: slow renewals overlapped)", async () => {
    const kv = await openKv(new TestStore());
    await Promise.all([kv.lease.renew(), kv.lease.renew(), kv.lease.setEpoch(kv.epoch), kv.lease.renew()]);
    await mutate(kv, { op: "set", key: "a", value: "1" });
    await kv.journal.close();
  });

  it("losing the lease while running fences the journal", async () => {
    const clock = new Clock();
    const store = new TestStore();
    const kv = await openKv(store, { clock, lease: { renewEveryMs: 20 } });
    const failures: Error[] = [];
    kv.journal.onFailure((e) => failures.push(e));
    kv.lease.stopRenewing();
    clock.passLeaseTtl();
    const other = await openKv(store.share(), { clock, takeover: true });
    kv.lease.startRenewing((e) => kv.journal.fence(e));
    await new Promise((r) => setTimeout(r, 100));
    expect(failures[0]).toBeInstanceOf(FencedError);
    await expect(mutate(kv, { op: "del", key: "x" })).rejects.toBeInstanceOf(FencedError);
    await other.journal.close();
  });
});

describe("lease checks on a store without atomic puts (s3rver rewrites objects in place)", () => {
  it("a lease read that catches a put mid-way (a torn object) is read again, not a failed journal", async () => {
    const store = new TestStore({ conditionalPut: false });
    const kv = await openKv(store);
    const get = store.get.bind(store);
    let torn = 2;
    store.get = async (key: string) => {
      const body = await get(key);
      if (key.endsWith("lease") && torn-- > 0) return body.subarray(0, 3);
      return body;
    };
    // every acknowledged append verifies the lease first on such a store
    await mutate(kv, { op: "set", key: "a", value: "1" });
    expect(torn).toBeLessThan(0);
    expect(kv.machine.toObject()).toEqual({ a: "1" });
    await kv.journal.close();
  });
});
