/** Every wrapper forwards `preconnect` to the store it wraps; stores without connections do nothing. */
import { faulty, MemoryObjectStore, metered, withLatency, withRetry } from "@filespaces/engine";
import { describe, expect, it } from "vitest";
import { S3ObjectStore, s3ConfigFromUrl } from "../../src/object/s3.js";

class CountingStore extends MemoryObjectStore {
  preconnects = 0;
  override async preconnect(): Promise<void> {
    this.preconnects++;
  }
}

describe("preconnect through wrappers", () => {
  it("reaches the innermost store through metered(latency(retry(faulty)))", async () => {
    const inner = new CountingStore("preconnect");
    const outer = metered(withLatency(withRetry(faulty(inner, { rules: [] })), { requestMs: 1, responseMs: 1 }));
    await outer.preconnect();
    await outer.preconnect();
    expect(inner.preconnects).toBe(2);
  });

  it("is a no-op on memory stores", async () => {
    await expect(new MemoryObjectStore("plain").preconnect()).resolves.toBeUndefined();
  });

  it("does nothing on a closed S3 store (no throw from its closed channel)", async () => {
    const store = new S3ObjectStore(
      s3ConfigFromUrl(new URL("s3://closed-bucket/p?endpoint=http%3A%2F%2F127.0.0.1%3A1&pathStyle=true"), {}),
    );
    await store.close();
    await expect(store.preconnect()).resolves.toBeUndefined();
  });
});
