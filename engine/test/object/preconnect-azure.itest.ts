/** `preconnect()` of the Azure backend against a real azurite, counted at a relay in front of it. */
import { openObjectStore } from "@filespaces/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AZURITE_ACCOUNT, AZURITE_KEY, type AzuriteHandle, startAzurite } from "../harness/azurite.js";
import { type CountingRelay, startCountingRelay } from "./counting-relay.js";

let az: AzuriteHandle;
let relay: CountingRelay;

beforeAll(async () => {
  az = await startAzurite();
  relay = await startCountingRelay(Number(new URL(az.endpoint).port));
}, 60_000);
afterAll(async () => {
  await relay?.close();
  await az?.stop();
});

describe("Azure preconnect (azurite behind a counting relay)", () => {
  it("opens one connection when none is idle, and the next GET uses it", async () => {
    const endpoint = `http://127.0.0.1:${relay.port}/${AZURITE_ACCOUNT}`;
    const store = await openObjectStore(`azure://${az.container}/warm?endpoint=${encodeURIComponent(endpoint)}`, {
      azure: { accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY },
    });
    try {
      await store.put("k", Buffer.from("hello"));
      const afterPut = relay.conns.length;
      await store.preconnect?.(); // an idle keep-alive connection is left: nothing to do
      expect(relay.conns.length).toBe(afterPut);

      await relay.cut();
      await new Promise((r) => setTimeout(r, 20));
      await store.preconnect?.();
      expect(relay.conns.length).toBe(afterPut + 1);
      const warm = relay.conns.at(-1)!;
      expect(warm.sentBytes).toBe(0);
      expect((await store.get("k")).toString()).toBe("hello");
      expect(relay.conns.length).toBe(afterPut + 1);
      expect(warm.sentBytes).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });
});
