/**
 * Model test: random operation sequences run against the file backend and the memory
 * backend (the reference), comparing every observable outcome — bodies, sizes, errors,
 * conditional-put verdicts and paginated listings. Key names mix '-', '.' and '0', which
 * sort before and after '/', to stress the file backend's directory-walk ordering.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryObjectStore, type ObjectStore, openObjectStore } from "@filespaces/engine";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

// Directory segments and leaf names never coincide: the file backend cannot hold "a" and "a/b".
const dirs = ["d", "d-x", "d.y", "e0"];
const leaves = ["f", "f-1", "f.2", "f0", "g"];
const keyArb = fc
  .tuple(fc.array(fc.constantFrom(...dirs), { maxLength: 2 }), fc.constantFrom(...leaves))
  .map(([ds, leaf]) => [...ds, leaf].join("/"));
const prefixArb = fc.constantFrom("", "d", "d/", "d-", "d-x/", "d/d", "e0/f", "f", "g");

type Op =
  | { op: "put"; key: string; size: number; cond: "none" | "create" | "current" | "stale" }
  | { op: "delete"; key: string }
  | { op: "get"; key: string; offset?: number; length?: number }
  | { op: "list"; prefix: string; limit: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("put" as const),
    key: keyArb,
    size: fc.integer({ min: 0, max: 40 }),
    cond: fc.constantFrom("none" as const, "none" as const, "create" as const, "current" as const, "stale" as const),
  }),
  fc.record({ op: fc.constant("delete" as const), key: keyArb }),
  fc.record({
    op: fc.constant("get" as const),
    key: keyArb,
    offset: fc.option(fc.integer({ min: 0, max: 45 }), { nil: undefined }),
    length: fc.integer({ min: 0, max: 20 }),
  }),
  fc.record({ op: fc.constant("list" as const), prefix: prefixArb, limit: fc.integer({ min: 1, max: 4 }) }),
);

/** Runs `ops` on `store`, returning one comparable line per operation. */
async function run(store: ObjectStore, ops: Op[]): Promise<string[]> {
  const etags = new Map<string, string[]>(); // per key, oldest first, for "current"/"stale"
  const out: string[] = [];
  let n = 0;
  const outcome = async (f: () => Promise<string>) => {
    try {
      return await f();
    } catch (err) {
      return `!${(err as Error).name}`;
    }
  };
  for (const o of ops) {
    n++;
    if (o.op === "put") {
      const body = Buffer.alloc(o.size, n % 251);
      const history = etags.get(o.key) ?? [];
      const options =
        o.cond === "create"
          ? { ifNoneMatch: "*" as const }
          : o.cond === "current"
            ? { ifMatch: history.at(-1) ?? "never-issued" }
            : o.cond === "stale"
              ? { ifMatch: history.at(-2) ?? "never-issued" }
              : {};
      out.push(
        await outcome(async () => {
          const { etag } = await store.put(o.key, body, options);
          etags.set(o.key, [...history, etag]);
          return "ok";
        }),
      );
    } else if (o.op === "delete") {
      out.push(
        await outcome(async () => {
          await store.delete(o.key);
          return "ok";
        }),
      );
    } else if (o.op === "get") {
      const range = o.offset === undefined ? undefined : { offset: o.offset, length: o.length ?? 0 };
      out.push(await outcome(async () => (await store.get(o.key, range ? { range } : {})).toString("hex")));
      out.push(await outcome(async () => String((await store.head(o.key)).size)));
    } else {
      out.push(
        await outcome(async () => {
          const keys: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.list(o.prefix, { limit: o.limit, ...(cursor ? { cursor } : {}) });
            if (page.objects.length > o.limit) throw new Error("page over limit");
            keys.push(...page.objects.map((x) => `${x.key}:${x.size}`));
            cursor = page.cursor;
          } while (cursor);
          return keys.join(",");
        }),
      );
    }
  }
  return out;
}

describe("file backend vs memory reference model", () => {
  it("agrees on every outcome of random operation sequences", async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const name = `model-${process.pid}-${round++}`;
        const dir = await mkdtemp(join(tmpdir(), "fs-model-"));
        try {
          const expected = await run(new MemoryObjectStore(name), ops);
          const actual = await run(await openObjectStore(`file://${dir}?fsync=false`), ops);
          expect(actual).toEqual(expected);
        } finally {
          MemoryObjectStore.reset(name);
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });
});
