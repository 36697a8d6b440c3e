/**
 * Azure failure modes azurite never shows: a peer that accepts the request and never
 * answers (the SDK has no client-side timeout; our Deadline must fire) and a reset
 * connection. Both must surface as retryable ObjectTransientError, once per call.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ObjectAbortedError, type ObjectStore, ObjectTransientError, openObjectStore } from "@filespaces/engine";
import { afterAll, beforeAll, expect, it } from "vitest";

const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
let server: Server;
let mode: "hang" | "reset" = "hang";
let requests = 0;
let store: ObjectStore;

beforeAll(async () => {
  server = createServer((req) => {
    requests++;
    if (mode === "reset") req.socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/devstoreaccount1`;
  store = await openObjectStore("azure://container/p", {
    azure: {
      connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${KEY};BlobEndpoint=${endpoint};`,
    },
    retry: false,
    requestTimeoutMs: 300,
  });
});
afterAll(async () => {
  await store?.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

it("times out a silent peer as a transient error, once per call", async () => {
  mode = "hang";
  requests = 0;
  for (const call of [() => store.get("k"), () => store.head("k"), () => store.list(""), () => store.delete("k")]) {
    const started = Date.now();
    const err = await call().catch((e) => e);
    expect(err).toBeInstanceOf(ObjectTransientError);
    expect(err.message).toMatch(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(3_000);
  }
  expect(requests).toBe(4);
});

it("keeps a caller's abort an ObjectAbortedError even while a deadline runs", async () => {
  mode = "hang";
  await expect(store.get("k", { signal: AbortSignal.timeout(50) })).rejects.toBeInstanceOf(ObjectAbortedError);
});

it("maps a reset connection to a transient error", async () => {
  mode = "reset";
  await expect(store.head("k")).rejects.toBeInstanceOf(ObjectTransientError);
  await expect(store.put("k", Buffer.from("x"))).rejects.toBeInstanceOf(ObjectTransientError);
});
