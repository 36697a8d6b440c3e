import { describe, expect, it } from "vitest";
import { parseDataPathConfig, uploadSlots } from "../../src/data/config.js";

const MiB = 1024 * 1024;

describe("upload slots", () => {
  it("unset: 32 MiB of chunks at once (4 of 8 MiB, 8 of 4 MiB, never fewer than 2)", () => {
    expect(uploadSlots(parseDataPathConfig({}))).toBe(4); // the default chunk: 8 MiB
    expect(uploadSlots(parseDataPathConfig({ chunkBytes: 4 * MiB }))).toBe(8);
    expect(uploadSlots(parseDataPathConfig({ chunkBytes: 64 * MiB }))).toBe(2);
  });

  it("an explicit uploadConcurrency wins, and a bad one is refused by name", () => {
    expect(uploadSlots(parseDataPathConfig({ uploadConcurrency: 12, chunkBytes: 8 * MiB }))).toBe(12);
    expect(() => parseDataPathConfig({ uploadConcurrency: 0 })).toThrow(/uploadConcurrency/);
  });
});
