import { describe, expect, it, vi } from "vitest";
import {
  BlockFetcher,
  chunkObjectKey,
  LocalRunSource,
  MemoryBlockCache,
  RequestScheduler,
} from "../../src/data/index.js";
import { MemoryObjectStore } from "../../src/object/memory.js";
import type { GetOptions, ObjectStore } from "../../src/object/types.js";
import { BLOCK, makeCodec, pattern } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A store that delivers a GET body into `into` in slices, `sliceMs` apart, reporting progress. */
class TricklingStore implements ObjectStore {
  readonly description = "trickling";
  readonly capabilities = { conditionalPut: false };
  getsDone = 0;
  constructor(
    readonly inner: MemoryObjectStore,
    private readonly sliceBytes: number,
    private readonly sliceMs: number,
  ) {}
  async get(key: string, options?: GetOptions): Promise<Buffer> {
    const body = await this.inner.get(key, { ...(options?.range ? { range: options.range } : {}) });
    const into = options?.into;
    if (!into || into.length < body.length) return body;
    for (let at = 0; at < body.length; at += this.sliceBytes) {
      await sleep(this.sliceMs);
      const n = Math.min(this.sliceBytes, body.length - at);
      body.copy(into, at, at, at + n);
      options?.onProgress?.(at + n);
    }
    this.getsDone++;
    return into.subarray(0, body.length);
  }
  head(...a: Parameters<ObjectStore["head"]>) {
    return this.inner.head(...a);
  }
  put(...a: Parameters<ObjectStore["put"]>) {
    return this.inner.put(...a);
  }
  delete(...a: Parameters<ObjectStore["delete"]>) {
    return this.inner.delete(...a);
  }
  list(...a: Parameters<ObjectStore["list"]>) {
    return this.inner.list(...a);
  }
  close() {
    return this.inner.close();
  }
}

describe("streaming decode", () => {
  const codec = makeCodec();
  const stride = codec.sealedRange(0, BLOCK).length;

  async function setup(tamperBlock?: number) {
    const inner = new MemoryObjectStore(`stream-${Math.random()}`);
    const id = "streamchunk0";
    const data = pattern(8 * BLOCK, 9);
    const sealed = codec.seal(id, data);
    if (tamperBlock !== undefined) sealed[tamperBlock * stride + 40]! ^= 1;
    await inner.put(chunkObjectKey(id), sealed);
    const store = new TricklingStore(inner, stride, 15);
    const fetcher = new BlockFetcher(
      new LocalRunSource(store, codec, 8 * BLOCK),
      codec,
      new MemoryBlockCache(1 << 24),
      undefined,
      new RequestScheduler({ demand: 4, prefetch: 2 }),
      8 * BLOCK,
    );
    return { id, data, store, fetcher };
  }

  it("serves the first block of a GET before the rest of the body has arrived", async () => {
    const { id, data, store, fetcher } = await setup();
    const all = fetcher.getBlocks(id, 0, 8, "prefetch"); // one 8-block GET
    const first = await fetcher.getBlocks(id, 0, 1, "demand"); // joins it
    expect(first[0]!.equals(data.subarray(0, BLOCK))).toBe(true);
    expect(store.getsDone).toBe(0); // the GET is still streaming
    const blocks = await all;
    expect(Buffer.concat(blocks).equals(data)).toBe(true);
    // every block was opened from the stream; the GET's own bookkeeping finishes just after
    await vi.waitFor(() => expect(fetcher.stats).toMatchObject({ gets: 1, blocksFromStore: 8 }));
    expect(fetcher.source.bufferStats().inUse).toBe(0);
  });

  it("a tampered block in the middle of a streamed GET fails alone", async () => {
    const { id, data, fetcher } = await setup(3);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, b) => fetcher.getBlocks(id, b, 1, "demand")),
    );
    // all eight joined one another's runs or fetched their own; only block 3 fails
    results.forEach((r, b) => {
      if (b === 3) expect(r.status).toBe("rejected");
      else expect(r.status === "fulfilled" && r.value[0]!.equals(data.subarray(b * BLOCK, (b + 1) * BLOCK))).toBe(true);
    });
  });
});
