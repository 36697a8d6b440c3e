/**
 * The durability layer on real object-store processes: azurite (conditional put: create-only
 * segments fence a zombie) and s3rver (no conditional put: lease checks before acknowledging).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FencedError, ServiceAlreadyRunningError } from "../../../src/meta/durable/index.js";
import type { ObjectStore } from "../../../src/object/types.js";
import { openObjectStore } from "../../../src/object/url.js";
import { type AzuriteHandle, startAzurite } from "../../harness/azurite.js";
import { type S3rverHandle, startS3rver } from "../../harness/s3rver.js";
import { cleanupCrashDirs, crashLoop } from "./crash-loop.js";
import { Clock, mutate, openKv } from "./helpers.js";
import type { TestStore } from "./test-store.js";

let az: AzuriteHandle;
let s3: S3rverHandle;
beforeAll(async () => {
  [az, s3] = await Promise.all([startAzurite(), startS3rver()]);
});
afterAll(async () => {
  await Promise.all([az?.stop(), s3?.stop()]);
  await cleanupCrashDirs();
});

let n = 0;
const backends: [string, () => Promise<ObjectStore>][] = [
  ["azurite", () => openObjectStore(az.url(`meta-${n++}/`), { azure: { connectionString: az.connectionString } })],
  ["s3rver", () => openObjectStore(s3.url(`meta-${n++}/`), { s3: s3.credentials })],
];

describe.each(backends)("durability on %s", (_name, open) => {
  it("refuses a second service, fences a zombie, keeps every acknowledged record", async () => {
    const store = (await open()) as unknown as TestStore;
    const clock = new Clock();
    const zombie = await openKv(store, { clock });
    await expect(openKv(store, { clock })).rejects.toBeInstanceOf(ServiceAlreadyRunningError);
    zombie.lease.stopRenewing();
    for (let i = 0; i < 10; i++) await mutate(zombie, { op: "set", key: `k${i}`, value: "old" });
    clock.passLeaseTtl();
    const fresh = await openKv(store, { clock, takeover: true });
    expect(fresh.machine.version).toBe(10);
    await expect(mutate(zombie, { op: "set", key: "k0", value: "zombie" })).rejects.toBeInstanceOf(FencedError);
    await mutate(fresh, { op: "set", key: "k1", value: "new" });
    await fresh.journal.close();
    const after = await openKv(store, { clock });
    expect(after.machine.toObject()).toMatchObject({ k0: "old", k1: "new", k9: "old" });
    await after.journal.close();
  });

  it("survives a short crash loop", async () => {
    const store = await open();
    const { totalOps } = await crashLoop(store, store.capabilities.conditionalPut, 6, 5);
    expect(totalOps).toBeGreaterThan(100);
  });
});
