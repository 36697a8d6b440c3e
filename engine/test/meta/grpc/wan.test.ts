/**
 * The metadata path over a 50 ms link: the real service behind a real gRPC server, reached by
 * MetaClient through the benchmark's TCP delay proxy (bench/lib/delay-proxy.mjs, 25 ms each
 * way). Two things a WAN client depends on:
 * - write-back commits of many small files share round trips (concurrent commits, coalesced
 *   into Batch rpcs, one journal commit each), so 300 files take a handful of RTTs;
 * - a large response (a 10,000-entry readdirplus page, ~1 MiB) is not throttled by HTTP/2's
 *   default 64 KiB receive window (which made it ~55 RTT).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ESM script of the benchmarks, without types
import { startDelayProxy } from "../../../../bench/lib/delay-proxy.mjs";
import { type CommitSink, WriteBack } from "../../../src/data/index.js";
import { type CallContext, ROOT_INO } from "../../../src/meta/api.js";
import { MetaClient } from "../../../src/meta/grpc/client.js";
import { MetaGrpcServer } from "../../../src/meta/grpc/server.js";
import { makeCodec, newChunkId, TestStore, tempDir } from "../../data/helpers.js";
import { type InProcessFixture, inProcessFixture } from "../helpers/fixture.js";
import { sealName } from "../helpers/names.js";

const DELAY_MS = 25;
const RTT = 2 * DELAY_MS;

let fx: InProcessFixture;
let server: MetaGrpcServer;
let proxy: { address: { host: string; port: number }; close(): Promise<void> };
const clients: MetaClient[] = [];

beforeAll(async () => {
  fx = inProcessFixture();
  fx.journal.delayMs = 5; // a journal segment put beside the service
  server = await MetaGrpcServer.start({ api: fx.service, listen: "127.0.0.1:0" });
  const port = Number(server.address.split(":").pop());
  proxy = await startDelayProxy({
    listen: { host: "127.0.0.1", port: 0 },
    target: { host: "127.0.0.1", port },
    delayMs: DELAY_MS,
  });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await proxy.close();
  server.close();
  await fx.close();
});

async function connect(
  options: { flowControlWindowBytes?: number } = {},
): Promise<{ c: MetaClient; ctx: CallContext }> {
  const c = new MetaClient({ address: `127.0.0.1:${proxy.address.port}`, retryBudgetMs: 10_000, ...options });
  clients.push(c);
  const token = fx.issue({ client: `wan-${clients.length}`, mode: "rw", subtreeRoot: ROOT_INO });
  const s = await c.openSession({ token }, { requestId: "s" });
  return { c, ctx: { token, sessionId: s.sessionId } };
}

const own = { mode: 0o644, uid: 0, gid: 0 };

describe("metadata over a 50 ms link", () => {
  it("write-back commits of 300 small files take a handful of round trips", async () => {
    const { c, ctx } = await connect();
    const { first } = await c.reserveInodes(ctx, { requestId: "r", count: 300 });
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        c.create(ctx, {
          requestId: `c${i}`,
          parent: ROOT_INO,
          name: sealName(ROOT_INO, `small-${i}`),
          ...own,
          ino: first + i,
        }),
      ),
    );
    const sink: CommitSink = {
      async commitWrite(ino, extents, newSize, mtime, o) {
        await c.commitWrite(ctx, {
          requestId: o.commitId,
          ino,
          extents: extents.map((e) => ({
            offset: e.offset,
            length: e.length,
            chunk: e.chunkId,
            chunkOffset: e.chunkOffset,
          })),
          newSize,
          mtime: mtime.getTime(),
        });
      },
      async setSize(ino, size, mtime, o) {
        await c.setattr(ctx, { requestId: o.commitId, ino, size, mtime: mtime.getTime() });
      },
    };
    const dir = tempDir("wan-wb");
    try {
      const wb = await WriteBack.open(
        { dir: dir.path, store: new TestStore(), codec: makeCodec(), sink, newChunkId },
        {
          chunkBytes: 4 << 20,
          segmentBytes: 64 << 20,
          flushDelayMs: 60_000,
          uploadConcurrency: 8,
          maxBacklogBytes: 256 << 20,
          backlogFullWaitMs: 1000,
          retryBaseMs: 50,
          retryMaxMs: 500,
        },
      );
      for (let i = 0; i < 300; i++) await wb.write(first + i, 0, randomBytes(4096), 0);
      const rpcsBefore = c.batchStats.rpcs;
      const t0 = performance.now();
      await wb.flush();
      const ms = performance.now() - t0;
      const rpcs = c.batchStats.rpcs - rpcsBefore;
      console.log(
        `300 write-back commits over ${RTT} ms: ${ms.toFixed(0)} ms (${(ms / RTT).toFixed(1)} RTT), ${rpcs} rpcs`,
      );
      expect(rpcs).toBeLessThanOrEqual(10);
      expect(ms).toBeLessThan(30 * RTT); // one at a time it was ≥ 300 RTT
      const got = await c.getattr(ctx, { inos: [first, first + 299] });
      expect(got.items.map((x) => x.attr?.size)).toEqual([4096, 4096]);
      await wb.drain();
    } finally {
      dir.cleanup();
    }
  }, 60_000);

  it("a large request (a commit with 8,000 extents, ~0.5 MiB) is not held back by the server's window", async () => {
    const { c, ctx } = await connect();
    /** Best of two commits of 8,000 extents, each into a fresh file (the service's cost stays flat). */
    const commit = async (serverWindow: number | undefined) => {
      const other = await MetaGrpcServer.start({
        api: fx.service,
        listen: "127.0.0.1:0",
        ...(serverWindow ? { receiveWindowBytes: serverWindow } : {}),
      });
      const p = await startDelayProxy({
        listen: { host: "127.0.0.1", port: 0 },
        target: { host: "127.0.0.1", port: Number(other.address.split(":").pop()) },
        delayMs: DELAY_MS,
      });
      const client = new MetaClient({ address: `127.0.0.1:${p.address.port}`, retryBudgetMs: 10_000 });
      try {
        await client.version(ctx); // connect
        let best = Number.POSITIVE_INFINITY;
        for (let round = 0; round < 2; round++) {
          const name = sealName(ROOT_INO, `big-${randomBytes(6).toString("hex")}`);
          const f = await c.create(ctx, { requestId: randomBytes(8).toString("hex"), parent: ROOT_INO, name, ...own });
          const extents = Array.from({ length: 8_000 }, (_, i) => ({
            offset: i * 4096,
            length: 4096,
            chunk: `chunk-${randomBytes(20).toString("hex")}`,
            chunkOffset: 0,
          }));
          const t0 = performance.now();
          const req = { requestId: randomBytes(8).toString("hex"), ino: f.attr.ino, extents, newSize: 8_000 * 4096 };
          await client.commitWrite(ctx, { ...req, mtime: 1 });
          best = Math.min(best, performance.now() - t0);
        }
        return best;
      } finally {
        client.close();
        await p.close();
        other.close();
      }
    };
    const slow = await commit(65_535);
    const fast = await commit(undefined);
    console.log(
      `commitWrite of 8,000 extents over ${RTT} ms: ${fast.toFixed(0)} ms (${(fast / RTT).toFixed(1)} RTT) ` +
        `vs ${slow.toFixed(0)} ms (${(slow / RTT).toFixed(1)} RTT) with the 64 KiB default window`,
    );
    expect(slow).toBeGreaterThan(8 * RTT); // ~0.5 MiB at 64 KiB per round trip
    expect(fast).toBeLessThan(slow * 0.6);
  }, 60_000);

  it("a 10,000-entry readdirplus page is not held back by the 64 KiB HTTP/2 window", async () => {
    const { c, ctx } = await connect();
    const token = fx.issue({ client: "seed", mode: "rw", subtreeRoot: ROOT_INO });
    const d = await fx.service.mkdir(
      { token },
      { requestId: "d", parent: ROOT_INO, name: sealName(ROOT_INO, "big"), ...own },
    );
    await Promise.all(
      Array.from({ length: 10_000 }, (_, i) =>
        fx.service.create(
          { token },
          { requestId: `e${i}`, parent: d.attr.ino, name: sealName(d.attr.ino, `frame_${i}.exr`), ...own },
        ),
      ),
    );
    const list = async (client: MetaClient, cctx: CallContext) => {
      await client.readdirplus(cctx, { ino: d.attr.ino, limit: 10 }); // warm the connection
      const t0 = performance.now();
      const page = await client.readdirplus(cctx, { ino: d.attr.ino, limit: 10_000 });
      expect(page.entries).toHaveLength(10_000);
      return performance.now() - t0;
    };
    const narrow = await connect({ flowControlWindowBytes: 65_535 });
    const slow = await list(narrow.c, narrow.ctx);
    const fast = await list(c, ctx);
    console.log(
      `readdirplus of 10,000 entries over ${RTT} ms: ${fast.toFixed(0)} ms (${(fast / RTT).toFixed(1)} RTT) ` +
        `vs ${slow.toFixed(0)} ms (${(slow / RTT).toFixed(1)} RTT) with the 64 KiB default window`,
    );
    expect(slow).toBeGreaterThan(15 * RTT);
    expect(fast).toBeLessThan(slow / 2);
  }, 60_000);
});
