/** Crash test of the durability layer on memory:// (with and without conditional put) and file://. */
import { afterAll, describe, expect, it } from "vitest";
import { FileObjectStore } from "../../../src/object/fs.js";
import { MemoryObjectStore } from "../../../src/object/memory.js";
import { cleanupCrashDirs, crashLoop, tempDir } from "./crash-loop.js";

afterAll(cleanupCrashDirs);

describe("crash and recovery", () => {
  for (const conditionalPut of [true, false]) {
    it(`keeps every acknowledged record across random kills (memory, conditionalPut=${conditionalPut})`, async () => {
      const name = `crash-${conditionalPut}-${process.pid}`;
      const { totalOps } = await crashLoop(new MemoryObjectStore(name), conditionalPut, 30, conditionalPut ? 7 : 11);
      expect(totalOps).toBeGreaterThan(1000);
      MemoryObjectStore.reset(name);
    });
  }

  it("keeps every acknowledged record across random kills (file://)", async () => {
    const root = await tempDir("store");
    const { totalOps } = await crashLoop(new FileObjectStore(root, { fsync: false }), true, 10, 3);
    expect(totalOps).toBeGreaterThan(300);
  });
});
