/**
 * Call coalescing over gRPC (client.ts + coalesce.ts + batch.ts): concurrent calls leave in
 * Batch rpcs, every caller gets its own answer or its own error (MetaError code and message,
 * validation, non-MetaError failures), a server without Batch is still served (plain rpcs),
 * and against the real service (durable journal on a memory store) concurrent mutations share
 * journal segments.
 */
import { createHash, randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { issueToken } from "../../../src/meta/access/token.js";
import type { CallContext, MetaApi } from "../../../src/meta/api.js";
import { MetaError } from "../../../src/meta/errors.js";
import { MetaClient } from "../../../src/meta/grpc/client.js";
import { MetaTransportError } from "../../../src/meta/grpc/errors.js";
import { metaServiceConstructor } from "../../../src/meta/grpc/proto.js";
import { deriveAccessTokenKey, startMetaServer } from "../../../src/meta/grpc/serve.js";
import { MetaGrpcServer } from "../../../src/meta/grpc/server.js";
import { MemoryObjectStore } from "../../../src/object/memory.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const ctx: CallContext = { token: "tok-1" };
const nameOf = (i: number) => ({ token: Buffer.alloc(32, i % 256), sealed: Buffer.from(`n${i}`) });
const slow = () => new Promise((r) => setTimeout(r, 10));

/** A recording API double: lookup answers by name, mkdir fails on odd names, readlink throws a plain Error. */
function recordingApi(seen: string[]): MetaApi {
  const handlers: Partial<Record<keyof MetaApi, (c: CallContext, r: never) => Promise<unknown>>> = {
    lookup: async (_c, req: { parent: number; name: Buffer }) => {
      seen.push(`lookup:${req.parent}`);
      await slow();
      return { attr: { ino: req.parent * 10 }, entryGeneration: 0 };
    },
    mkdir: async (_c, req: { requestId: string; name: { sealed: Buffer } }) => {
      seen.push(`mkdir:${req.requestId}`);
      await slow();
      const n = Number(req.name.sealed.toString().slice(1));
      if (n % 2) throw new MetaError("EEXIST", `name n${n} exists`);
      return { attr: { ino: 1000 + n } };
    },
    readlink: async () => {
      throw new Error("disk on fire");
    },
  };
  return new Proxy({} as MetaApi, {
    get: (_t, method: string) => async (c: CallContext, req: unknown) => {
      const h = handlers[method as keyof MetaApi] as ((c: CallContext, r: unknown) => Promise<unknown>) | undefined;
      if (!h) throw new MetaError("EINVAL", `${method} not implemented by the test double`);
      return h(c, req);
    },
  });
}

describe("coalesced calls (Batch rpc)", () => {
  it("gives every caller its own answer or error and uses fewer rpcs than calls", async () => {
    const seen: string[] = [];
    const server = await MetaGrpcServer.start({ api: recordingApi(seen), listen: "127.0.0.1:0" });
    const client = new MetaClient({ address: server.address });
    cleanups.push(
      () => server.close(),
      () => client.close(),
    );
    const lookups = Array.from({ length: 40 }, (_, i) => client.lookup(ctx, { parent: i + 1, name: Buffer.alloc(32) }));
    const mkdirs = Array.from({ length: 40 }, (_, i) =>
      client.mkdir(ctx, { requestId: `m${i}`, parent: 1, name: nameOf(i), mode: 0o755, uid: 0, gid: 0 }).then(
        (r) => r.attr.ino,
        (e: unknown) => e,
      ),
    );
    const invalid = client.lookup(ctx, { parent: -5, name: Buffer.alloc(32) }).catch((e: unknown) => e);
    const broken = client.readlink(ctx, { ino: 3 }).catch((e: unknown) => e);

    const found = await Promise.all(lookups);
    expect(found.map((r) => r.attr.ino)).toEqual(found.map((_, i) => (i + 1) * 10));
    const made = await Promise.all(mkdirs);
    made.forEach((r, i) => {
      if (i % 2) {
        expect(r).toBeInstanceOf(MetaError);
        expect((r as MetaError).code).toBe("EEXIST");
        expect((r as MetaError).message).toBe(`EEXIST: name n${i} exists`);
      } else expect(r).toBe(1000 + i);
    });
    const bad = await invalid;
    expect(bad).toBeInstanceOf(MetaError);
    expect((bad as MetaError).code).toBe("EINVAL");
    expect((bad as MetaError).message).toMatch(/parent/);
    const fire = await broken;
    expect(fire).toBeInstanceOf(MetaTransportError);
    expect((fire as MetaTransportError).status).toBe(grpc.status.INTERNAL);
    expect((fire as Error).message).toMatch(/disk on fire/);

    const stats = client.batchStats;
    expect(stats.calls).toBe(82);
    expect(stats.batches).toBeGreaterThan(0);
    expect(stats.rpcs).toBeLessThan(20);
    expect(seen).toHaveLength(80);
  });

  it("falls back to one rpc per call against a server without Batch", async () => {
    const seen: string[] = [];
    const api = recordingApi(seen);
    const server = new grpc.Server();
    const service = metaServiceConstructor().service;
    server.addService(service, {
      Lookup: (call: grpc.ServerUnaryCall<{ parent: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        api.lookup(ctx, { parent: call.request.parent, name: Buffer.alloc(32) }).then((r) => cb(null, r), cb);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const client = new MetaClient({ address: `127.0.0.1:${port}` });
    cleanups.push(
      () => server.forceShutdown(),
      () => client.close(),
    );
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => client.lookup(ctx, { parent: i + 1, name: Buffer.alloc(32) })),
    );
    expect(answers.map((r) => r.attr.ino)).toEqual(answers.map((_, i) => (i + 1) * 10));
    expect(seen).toHaveLength(30);
  });

  it("against the real service: concurrent creates share journal segments and all land", async () => {
    const key = randomBytes(32);
    const running = await startMetaServer({
      store: new MemoryObjectStore("batch"),
      metaKey: key,
      listen: "127.0.0.1:0",
      gc: false,
      schedule: [],
    });
    const client = new MetaClient({ address: running.grpc.address });
    cleanups.push(
      () => running.stop(100),
      () => client.close(),
    );
    const rw = { token: issueToken(deriveAccessTokenKey(key), { client: "t", mode: "rw", subtreeRoot: 1 }) };
    const tok = (scope: number, n: string) => createHash("sha256").update(`${scope}\0${n}`).digest();
    const sealed = (scope: number, n: string) => ({ token: tok(scope, n), sealed: Buffer.from(n) });
    const before = running.durable.journal.stats.segmentsWritten;
    const N = 300;
    const created = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        client.create(rw, { requestId: `c${i}`, parent: 1, name: sealed(1, `f${i}`), mode: 0o644, uid: 0, gid: 0 }),
      ),
    );
    expect(new Set(created.map((c) => c.attr.ino)).size).toBe(N);
    const segments = running.durable.journal.stats.segmentsWritten - before;
    expect(segments).toBeLessThan(N / 4);
    // Re-creating an existing name inside a batch fails for that caller only.
    const again = await Promise.all([
      client
        .create(rw, { requestId: "x1", parent: 1, name: sealed(1, "f1"), mode: 0o644, uid: 0, gid: 0, exclusive: true })
        .catch((e: unknown) => e),
      client.lookup(rw, { parent: 1, name: tok(1, "f7") }),
      client.lookup(rw, { parent: 1, name: tok(1, "nope") }).catch((e: unknown) => e),
    ]);
    expect((again[0] as MetaError).code).toBe("EEXIST");
    expect((again[1] as { attr: { ino: number } }).attr.ino).toBe(created[7]!.attr.ino);
    expect((again[2] as MetaError).code).toBe("ENOENT");
  });
});
