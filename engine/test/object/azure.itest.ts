/** The conformance suite and Azure-specific behaviour against a real azurite process. */
import { ObjectRetriesExhaustedError, ObjectTransientError, openObjectStore } from "@filespaces/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AZURITE_ACCOUNT, AZURITE_KEY, type AzuriteHandle, startAzurite } from "../harness/azurite.js";
import { describeObjectStoreConformance } from "./conformance.js";

let az: AzuriteHandle;
beforeAll(async () => {
  az = await startAzurite();
});
afterAll(async () => {
  await az?.stop();
});

describeObjectStoreConformance(
  "azure (azurite)",
  () =>
    openObjectStore(az.url("conformance/"), {
      azure: { connectionString: az.connectionString },
      retry: { baseDelayMs: 5 },
    }),
  { listObjects: 1_050 },
);

describe("azure backend", () => {
  it("opens with account + key and ?endpoint=, keeping keys relative to the prefix", async () => {
    const origin = new URL(az.endpoint).origin;
    const byKey = await openObjectStore(`azure://${az.container}/tenant-b?endpoint=${encodeURIComponent(origin)}`, {
      env: { AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT, AZURE_STORAGE_KEY: AZURITE_KEY },
    });
    await byKey.put("x/y", Buffer.from("scoped"));
    const root = await openObjectStore(az.url(), { env: { AZURE_STORAGE_CONNECTION_STRING: az.connectionString } });
    expect((await root.get("tenant-b/x/y")).toString()).toBe("scoped");
    expect((await byKey.list("")).objects.map((o) => o.key)).toEqual(["x/y"]);
    await Promise.all([byKey.close(), root.close()]);
  });

  it("maps a dead endpoint to a transient error and retries only in our layer", async () => {
    const dead = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:1/${AZURITE_ACCOUNT};`;
    let retries = 0;
    const store = await openObjectStore(az.url(), {
      azure: { connectionString: dead },
      retry: { maxAttempts: 3, baseDelayMs: 1, onRetry: () => retries++ },
    });
    const started = Date.now();
    const err = await store.head("k").catch((e) => e);
    expect(err).toBeInstanceOf(ObjectRetriesExhaustedError);
    expect(err.cause).toBeInstanceOf(ObjectTransientError);
    expect(retries).toBe(2);
    expect(Date.now() - started).toBeLessThan(5_000); // the SDK's own retry policy would take far longer
  });
});
