#!/usr/bin/env node
/**
 * Creates COUNT small files of SIZE bytes in DIR one after another (open, write, close), from
 * its own process, printing the running count every 10 files so a run that hits the
 * benchmark's timeout still tells how far it got.
 *
 *   create.mjs DIR COUNT SIZE
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

const [dir, countText, sizeText] = process.argv.slice(2);
const count = Number(countText);
const body = Buffer.alloc(Number(sizeText), 42);
await mkdir(dir, { recursive: true });
const start = performance.now();
for (let i = 0; i < count; i++) {
  await writeFile(path.join(dir, `small_${String(i).padStart(5, "0")}.dat`), body);
  if ((i + 1) % 10 === 0) process.stdout.write(`created ${i + 1}\n`);
}
process.stdout.write(`done ${count} ${performance.now() - start}\n`);
