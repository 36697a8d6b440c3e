/** Positive controls: a scanner that never finds anything proves nothing. */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { scanForCanaries } from "./canaries.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function scanOne(body: Buffer, canary: string, name = "object") {
  const dir = await mkdtemp(join(tmpdir(), "canary-"));
  dirs.push(dir);
  await mkdir(join(dir, "sub"));
  await writeFile(join(dir, "sub", name), body);
  return (await scanForCanaries(dir, [canary], { step: 32 })).map((f) => f.form);
}

describe("scanForCanaries finds every leak form", () => {
  const canary = "CANARY-probe-19c4e2";
  const noise = (n: number) => randomBytes(n);
  const text = Buffer.from(canary);

  it.each([
    ["plain", Buffer.concat([noise(100), text, noise(50)])],
    ["hex", Buffer.from(`xx${text.toString("hex")}yy`)],
    ["hex-upper", Buffer.from(text.toString("hex").toUpperCase())],
    ["utf16le", Buffer.from(`__${canary}`, "utf16le")],
    ["utf16be", Buffer.from(canary, "utf16le").swap16()],
    ["base64+0", Buffer.from(text.toString("base64"))],
    ["base64+1", Buffer.from(Buffer.concat([Buffer.from("a"), text]).toString("base64"))],
    ["base64+2", Buffer.from(Buffer.concat([Buffer.from("ab"), text, Buffer.from("z")]).toString("base64"))],
    ["base64url+1", Buffer.from(Buffer.concat([Buffer.from([0xfb]), text, Buffer.from([0xff])]).toString("base64url"))],
  ])("%s", async (form, body) => {
    expect(await scanOne(body, canary)).toContain(form);
  });

  it.each([
    ["zlib@0:plain", deflateSync(Buffer.from(canary.repeat(5)))],
    ["gzip@0:plain", gzipSync(Buffer.from(canary))],
    ["brotli@0:plain", brotliCompressSync(Buffer.from(canary))],
    ["deflate-raw@64:plain", Buffer.concat([noise(64), deflateRawSync(Buffer.from(canary)), noise(40)])],
    ["gzip@0:base64+0", gzipSync(Buffer.from(text.toString("base64")))],
  ])("compressed: %s", async (form, body) => {
    expect(await scanOne(body, canary)).toContain(form);
  });

  it("path names", async () => {
    expect(await scanOne(Buffer.from("x"), canary, `${canary}.txt`)).toContain("path:plain");
  });

  it("and nothing in random bytes", async () => {
    expect(await scanOne(noise(8 * 1024), canary)).toEqual([]);
  });
});
