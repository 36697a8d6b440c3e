import { describe, expect, it } from "vitest";
import { readBody } from "../../src/object/body.js";

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield new Uint8Array(Buffer.from(p));
}

describe("readBody", () => {
  it("reads a body of known length into the caller's buffer when it fits", async () => {
    const into = Buffer.alloc(16, 0x2e);
    const out = await readBody(chunks("hello ", "world"), 11, into);
    expect(out.toString()).toBe("hello world");
    expect(out.buffer).toBe(into.buffer); // a view of `into`, no allocation
  });

  it("allocates once when no buffer is offered or it is too small", async () => {
    const small = Buffer.alloc(4);
    const out = await readBody(chunks("hello ", "world"), 11, small);
    expect(out.toString()).toBe("hello world");
    expect(out.buffer).not.toBe(small.buffer);
    expect((await readBody(chunks("abc"), 3)).toString()).toBe("abc");
  });

  it("keeps every byte when the server sends more or less than announced, or no length", async () => {
    expect((await readBody(chunks("abcdef", "gh"), 4)).toString()).toBe("abcdefgh");
    expect((await readBody(chunks("ab"), 10)).toString()).toBe("ab");
    expect((await readBody(chunks("ab", "cd"), undefined)).toString()).toBe("abcd");
    expect((await readBody(chunks(), 0)).length).toBe(0);
  });
});

describe("readBody progress", () => {
  it("reports the bytes final in the caller's buffer as they land, and nothing without one", async () => {
    const seen: number[] = [];
    const into = Buffer.alloc(16);
    await readBody(chunks("abc", "defg", "h"), 8, into, (n) => seen.push(n));
    expect(seen).toEqual([3, 7, 8]);
    const none: number[] = [];
    await readBody(chunks("abc", "defg"), 7, undefined, (n) => none.push(n));
    expect(none).toEqual([]);
  });
});
