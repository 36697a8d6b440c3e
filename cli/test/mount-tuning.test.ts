import { describe, expect, it } from "vitest";
import { collectOption, parseTuning } from "../src/commands/mount-tuning.js";
import { UsageError } from "../src/flags.js";

describe("filespace mount -o KEY=VALUE", () => {
  it("takes numbers, sizes and booleans for the data path's knobs; repeats collect", () => {
    const options = ["prefetchConcurrency=16", "prefetchMaxWindowBytes=128MiB", "memoryDropBehind=false"].reduce(
      (all, o) => collectOption(o, all),
      [] as string[],
    );
    expect(parseTuning(options)).toEqual({
      prefetchConcurrency: 16,
      prefetchMaxWindowBytes: 128 * 1024 * 1024,
      memoryDropBehind: false,
    });
    expect(parseTuning([])).toEqual({});
  });

  it("names the knob and what was expected; a misspelt knob is refused, not ignored", () => {
    const fails = (o: string, message: RegExp) => {
      expect(() => parseTuning([o])).toThrow(UsageError);
      expect(() => parseTuning([o])).toThrow(message);
    };
    fails("prefetchConcurency=16", /-o prefetchConcurency: unknown knob; expected one of .*prefetchConcurrency/);
    fails("prefetchConcurrency=1000", /-o prefetchConcurrency: expected at most 256/);
    fails("prefetchConcurrency=lots", /-o prefetchConcurrency: expected a number, a size such as 16MiB, true or false/);
    fails("memoryDropBehind=1", /-o memoryDropBehind: expected true or false/);
    fails("prefetchConcurrency", /-o: expected KEY=VALUE/);
    fails("diskCacheBytes=2GiB", /-o diskCacheBytes: use --cache-size/);
    fails("chunkBytes=1MiB", /-o chunkBytes: fixed by the filespace/);
  });
});
