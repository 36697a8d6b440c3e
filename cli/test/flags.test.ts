import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { initFlags } from "../src/commands/init.js";
import { formatSize, parseFlags, parseSize, sizeFlag, UsageError } from "../src/flags.js";
import { NEW_KEY_SOURCES, readCredential, UNLOCK_SOURCES } from "../src/passphrase.js";

describe("sizes", () => {
  it("parse binary units and plain numbers", () => {
    expect(parseSize("4MiB")).toBe(4 * 1024 * 1024);
    expect(parseSize("64k")).toBe(65536);
    expect(parseSize("64 KiB")).toBe(65536);
    expect(parseSize("1.5g")).toBe(1.5 * 1024 ** 3);
    expect(parseSize("65536")).toBe(65536);
    for (const bad of ["", "4 parsecs", "-1", "MiB", "0.5"]) expect(parseSize(bad), bad).toBeUndefined();
    expect(formatSize(4 * 1024 * 1024)).toBe("4 MiB");
    expect(formatSize(1000)).toBe("1000 B");
  });

  it("flag errors name the flag", () => {
    expect(() => parseFlags(z.object({ cacheSize: sizeFlag }), { cacheSize: "big" })).toThrow(
      /--cache-size: expected a size/,
    );
    expect(() => parseFlags(z.object({ cacheSize: sizeFlag }), { cacheSize: "big" })).toThrow(UsageError);
  });
});

describe("credential sources", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "filespace-cred-"));
    await writeFile(join(dir, "pw"), "from the file\r\n");
    await writeFile(join(dir, "secret"), "s".repeat(40));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("take the file flag first, strip the newline, then the environment", async () => {
    const env = { FILESPACE_PASSPHRASE: "from env", FILESPACE_SECRET: "x".repeat(32) };
    expect(await readCredential({ passphraseFile: join(dir, "pw") }, UNLOCK_SOURCES, { env })).toEqual({
      passphrase: "from the file",
    });
    expect(await readCredential({}, UNLOCK_SOURCES, { env })).toEqual({ passphrase: "from env" });
    expect(await readCredential({}, UNLOCK_SOURCES, { env: { FILESPACE_SECRET: "y".repeat(32) } })).toEqual({
      secret: Buffer.from("y".repeat(32)),
    });
    const secret = await readCredential({ secretFile: join(dir, "secret") }, UNLOCK_SOURCES, { env });
    expect(secret).toEqual({ secret: Buffer.from("s".repeat(40)) });
  });

  it("refuse without a source and without a terminal, naming the options", async () => {
    const stdinIsTty = process.stdin.isTTY;
    process.stdin.isTTY = false;
    try {
      await expect(readCredential({}, UNLOCK_SOURCES, { env: {} })).rejects.toThrow(
        /--passphrase-file FILE, set FILESPACE_PASSPHRASE/,
      );
      await expect(readCredential({}, NEW_KEY_SOURCES, { env: {}, kind: "secret" })).rejects.toThrow(
        /--new-secret-file FILE or set FILESPACE_NEW_SECRET/,
      );
    } finally {
      process.stdin.isTTY = stdinIsTty;
    }
  });

  it("enforce a minimum length for new passphrases and report unreadable files by flag", async () => {
    await expect(
      readCredential({}, NEW_KEY_SOURCES, { env: { FILESPACE_NEW_PASSPHRASE: "short" }, confirm: true }),
    ).rejects.toThrow(/at least 8 characters/);
    await expect(readCredential({ passphraseFile: join(dir, "missing") }, UNLOCK_SOURCES, { env: {} })).rejects.toThrow(
      /--passphrase-file: cannot read/,
    );
  });
});

describe("init flags", () => {
  const base = { chunkSize: "4MiB", blockSize: "64KiB", kdfN: "131072", compression: "off" };
  it("accept the defaults and reject bad sizes, naming the flag", () => {
    expect(parseFlags(initFlags, base)).toMatchObject({ chunkSize: 4194304, blockSize: 65536, kdfN: 131072 });
    expect(() => parseFlags(initFlags, { ...base, blockSize: "3000" })).toThrow(/--block-size: expected at least 4KiB/);
    expect(() => parseFlags(initFlags, { ...base, blockSize: "48KiB" })).toThrow(
      /--block-size: expected a power of two/,
    );
    expect(() => parseFlags(initFlags, { ...base, chunkSize: "100000" })).toThrow(
      /--chunk-size: expected a multiple of --block-size/,
    );
    expect(() => parseFlags(initFlags, { ...base, kdfN: "1000" })).toThrow(/--kdf-n: expected at least 1024/);
    expect(() => parseFlags(initFlags, { ...base, kdfN: "3000" })).toThrow(/--kdf-n: expected a power of two/);
    expect(() => parseFlags(initFlags, { ...base, compression: "maybe" })).toThrow(/--compression: expected on or off/);
  });
});
