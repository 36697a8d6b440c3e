/**
 * The `filespace` command end to end: real child processes running the built CLI against a
 * real file:// store in a temp dir (build first: `npx tsc -b`).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/filespace.js", import.meta.url));
let dir: string;
let url: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // stdin is /dev/null: no TTY, so a missing passphrase must be refused, never prompted for.
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "filespace-cli-"));
  url = `file://${join(dir, "store")}`;
  await writeFile(join(dir, "pw"), "the first passphrase\n");
  await writeFile(join(dir, "bob.secret"), randomBytes(40));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("filespace init | info | key", () => {
  it("init creates a filespace and refuses to overwrite it", async () => {
    const pw = ["--passphrase-file", join(dir, "pw"), "--kdf-n", "1024"];
    const first = await run(["init", url, ...pw, "--chunk-size", "1MiB", "--block-size", "16KiB"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/created filespace [0-9a-f-]{36}/);
    const again = await run(["init", url, ...pw]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });

  it("info describes the header in plain words without a passphrase or secrets", async () => {
    const info = await run(["info", url]);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/AES-256-GCM in 16 KiB blocks, 1 MiB chunks/);
    expect(info.stdout).toMatch(/passphrase\s+scrypt N=2\^10 r=8 p=1/);
    expect(info.stdout).not.toMatch(/the first passphrase/);
  });

  it("validates flags and names the flag", async () => {
    const env = { FILESPACE_PASSPHRASE: "long enough passphrase" };
    const bad = await run(["init", `file://${join(dir, "x")}`, "--chunk-size", "4 parsecs"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--chunk-size: expected a size such as 4MiB/);
    const weak = await run(["init", `file://${join(dir, "x")}`, "--kdf-n", "1024"], { FILESPACE_PASSPHRASE: "short" });
    expect(weak.stderr).toMatch(/at least 8 characters/);
  });

  it("refuses clearly when there is no passphrase source and no terminal", async () => {
    const r = await run(["key", "rotate", url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no terminal to ask on: pass --passphrase-file FILE, set FILESPACE_PASSPHRASE/);
  });

  it("a wrong passphrase is exit code 3 with a clear message", async () => {
    const r = await run(["key", "rotate", url], { FILESPACE_PASSPHRASE: "not the passphrase" });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/wrong passphrase/);
  });

  it("key add (secret) / list / rotate / remove, and the removed secret stops working", async () => {
    const unlock = ["--passphrase-file", join(dir, "pw")];
    const add = await run(["key", "add", url, ...unlock, "--kind", "secret", "--label", "bob"], {
      FILESPACE_NEW_SECRET: randomBytes(24).toString("hex"),
    });
    expect(add.code, add.stderr).toBe(0);
    const bob = await run([
      "key",
      "add",
      url,
      ...unlock,
      "--kind",
      "secret",
      "--new-secret-file",
      join(dir, "bob.secret"),
    ]);
    const bobSlot = /key slot ([0-9a-f]{12})/.exec(bob.stdout)?.[1];
    expect(bobSlot).toBeDefined();

    const rotate = await run(["key", "rotate", url, "--secret-file", join(dir, "bob.secret")]);
    expect(rotate.stdout).toMatch(/key generation 2/);
    const list = await run(["key", "list", url]);
    expect(list.stdout.trim().split("\n")).toHaveLength(3);
    expect(list.stdout).toMatch(/secret\s+HKDF-SHA256\s+generations 1,2/);

    const remove = await run(["key", "remove", url, bobSlot!, ...unlock]);
    expect(remove.stdout).toMatch(/rotated to key generation 3/);
    const denied = await run(["key", "rotate", url, "--secret-file", join(dir, "bob.secret")]);
    expect(denied.code).toBe(3);
    expect((await run(["info", url])).stdout).toMatch(/key generations:\s+1, 2, 3/);
  });

  it("key meta-key writes the metadata at-rest key with mode 0600", async () => {
    const out = join(dir, "meta.key");
    const r = await run(["key", "meta-key", url, "--out", out], { FILESPACE_PASSPHRASE: "the first passphrase" });
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.from((await readFile(out, "utf8")).trim(), "base64")).toHaveLength(32);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });
});
