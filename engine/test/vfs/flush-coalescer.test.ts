import { describe, expect, it } from "vitest";
import { FlushCoalescer } from "../../src/vfs/fs-data.js";

/** A flush that finishes when told to, counting how often it was started. */
function controlledFlush() {
  const started: Array<() => void> = [];
  return {
    started,
    flush: () => new Promise<void>((resolve) => started.push(resolve)),
    finish: async (i: number) => {
      started[i]!();
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe("FlushCoalescer", () => {
  it("a request with no writes since the running flush started shares it (a RELEASE after its FLUSH)", async () => {
    const f = controlledFlush();
    let written = 5;
    const c = new FlushCoalescer(f.flush, () => written);
    const first = c.request();
    const second = c.request(); // nothing written meanwhile
    expect(f.started).toHaveLength(1);
    await f.finish(0);
    await Promise.all([first, second]);
    expect(f.started).toHaveLength(1);
    // after it finished, a new request starts a new flush (its writes may have failed to land)
    written++;
    const third = c.request();
    expect(f.started).toHaveLength(2);
    await f.finish(1);
    await third;
  });

  it("a request with writes after the running flush started waits for the next one, shared by all such", async () => {
    const f = controlledFlush();
    let written = 1;
    const c = new FlushCoalescer(f.flush, () => written);
    const first = c.request();
    written = 2;
    let secondDone = false;
    const second = c.request().then(() => {
      secondDone = true;
    });
    written = 3;
    const third = c.request();
    expect(f.started).toHaveLength(1);
    await f.finish(0);
    await first;
    expect(secondDone).toBe(false);
    expect(f.started).toHaveLength(2); // one more flush for both
    await f.finish(1);
    await Promise.all([second, third]);
    expect(f.started).toHaveLength(2);
  });
});
