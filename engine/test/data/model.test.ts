/**
 * Random writes, truncates, flushes and restarts through the whole data path, compared with a
 * plain Buffer model after every step: read-your-writes before upload, committed extents after.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DataPath, parseDataPathConfig } from "../../src/data/index.js";
import { logKeys, MemoryMeta, makeCodec, newChunkId, pattern, TestStore, tempDir } from "./helpers.js";

type Op =
  | { kind: "write"; offset: number; length: number; seed: number }
  | { kind: "truncate"; size: number }
  | { kind: "flush" }
  | { kind: "restart" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      offset: fc.nat(200_000),
      length: fc.integer({ min: 1, max: 40_000 }),
      seed: fc.nat(255),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), size: fc.nat(220_000) }) },
  { weight: 2, arbitrary: fc.constant({ kind: "flush" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
);

const config = parseDataPathConfig({
  memoryCacheBytes: 8 * 1024 * 1024,
  chunkBytes: 64 * 1024,
  segmentBytes: 96 * 1024,
  flushDelayMs: 5,
  retryBaseMs: 5,
  retryMaxMs: 20,
});

async function runModel(ops: Op[]): Promise<void> {
  const logDir = tempDir("model-log");
  const cacheDir = tempDir("model-cache");
  const store = new TestStore();
  const codec = makeCodec();
  const meta = new MemoryMeta();
  const open = () =>
    DataPath.open(
      { store, codec, extents: meta, sink: meta, newChunkId, logDir: logDir.path, cacheDir: cacheDir.path, logKeys },
      config,
    );
  const ino = 1;
  let model = Buffer.alloc(0);
  let dp = await open();
  const check = async (what: string) => {
    const size = dp.writeBack.pendingSize(ino) ?? meta.sizeOf(ino);
    expect(size, `size after ${what}`).toBe(model.length);
    const got = await dp.read(1, ino, 0, size + 100, meta.sizeOf(ino));
    expect(got.equals(model), `content after ${what}`).toBe(true);
  };
  try {
    for (const op of ops) {
      const size = dp.writeBack.pendingSize(ino) ?? meta.sizeOf(ino);
      if (op.kind === "write") {
        const data = pattern(op.length, op.seed);
        await dp.write(ino, op.offset, data, size);
        const end = op.offset + op.length;
        if (end > model.length) model = Buffer.concat([model, Buffer.alloc(end - model.length)]);
        data.copy(model, op.offset);
      } else if (op.kind === "truncate") {
        await dp.truncate(ino, op.size);
        model =
          op.size <= model.length
            ? Buffer.from(model.subarray(0, op.size))
            : Buffer.concat([model, Buffer.alloc(op.size - model.length)]);
      } else if (op.kind === "flush") {
        await dp.flush();
        expect(meta.sizeOf(ino)).toBe(model.length);
      } else {
        dp.fsync();
        await dp.close({ force: true });
        dp = await open();
      }
      await check(op.kind);
    }
    await dp.flush();
    await check("final flush");
    await dp.close();
  } finally {
    logDir.cleanup();
    cacheDir.cleanup();
  }
}

describe("data path against a Buffer model", () => {
  it("random writes/truncates/flushes/restarts read back as the model", async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), runModel), { numRuns: 25 });
  });

  it("regression: truncate below pending writes then extend by writing past the old end", async () => {
    await runModel([
      { kind: "write", offset: 0, length: 30_000, seed: 1 },
      { kind: "flush" },
      { kind: "write", offset: 10_000, length: 5000, seed: 2 },
      { kind: "truncate", size: 12_000 },
      { kind: "write", offset: 20_000, length: 10, seed: 3 },
      { kind: "restart" },
      { kind: "truncate", size: 40_000 },
    ]);
  });
});
