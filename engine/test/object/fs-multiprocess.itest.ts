/**
 * The file backend under writers in several real processes (built dist/ code): whole-object
 * overwrites never tear, create-only puts have exactly one winner per key, and ifMatch
 * read-modify-write loses no update across processes (the lock file, not the in-process
 * queue, is what makes that hold).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openObjectStore } from "@filespaces/engine";
import { afterAll, beforeAll, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/process.js";

const WRITER = `
const { openObjectStore } = await import(process.argv[1]);
const [dir, id] = [process.argv[2], Number(process.argv[3])];
const store = await openObjectStore("file://" + dir);
const wins = [];
for (let round = 0; round < 40; round++) {
  await store.put("shared/object", Buffer.alloc(64 * 1024 + id, id));
  try {
    await store.put("race/" + round, Buffer.from(String(id)), { ifNoneMatch: "*" });
    wins.push(round);
  } catch (err) {
    if (err.name !== "ObjectPreconditionFailedError") throw err;
  }
}
// Read-modify-write with ifMatch: lost updates would show in the final count.
for (let done = 0; done < 15; ) {
  const { etag } = await store.head("counter");
  const value = Number((await store.get("counter")).toString());
  try {
    await store.put("counter", Buffer.from(String(value + 1)), { ifMatch: etag });
    done++;
  } catch (err) {
    if (err.name !== "ObjectPreconditionFailedError") throw err;
  }
}
process.stdout.write(JSON.stringify(wins));
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fs-multiproc-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runWriter(id: number): Promise<number[]> {
  const entry = join(REPO_ROOT, "engine/dist/object/index.js");
  const child = spawn(process.execPath, ["--input-type=module", "-e", WRITER, entry, dir, String(id)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`writer ${id}: ${err}`))));
  });
}

it("keeps objects whole, create-only single-winner and ifMatch updates lossless across processes", async () => {
  const store = await openObjectStore(`file://${dir}`);
  await store.put("counter", Buffer.from("0"));
  const writers = [1, 2, 3].map(runWriter);
  let done = false;
  let reads = 0;
  const all = Promise.all(writers).finally(() => {
    done = true;
  });
  while (!done) {
    const body = await store.get("shared/object").catch(() => undefined);
    if (body) {
      const id = body[0]!;
      expect(body.length).toBe(64 * 1024 + id);
      expect(body.every((b) => b === id)).toBe(true);
      reads++;
    }
    await new Promise((r) => setImmediate(r));
  }
  const wins = await all;
  const rounds = wins.flat().sort((a, b) => a - b);
  expect(rounds).toEqual(Array.from({ length: 40 }, (_, i) => i)); // each round won exactly once
  for (const [i, won] of wins.entries()) {
    for (const round of won) expect((await store.get(`race/${round}`)).toString()).toBe(String(i + 1));
  }
  expect(reads).toBeGreaterThan(0);
  expect((await store.get("counter")).toString()).toBe("45"); // 3 processes × 15 ifMatch increments
  expect((await readdir(join(dir, "shared"))).filter((n) => n !== "object")).toEqual([]); // no temp or lock files left
});
