/**
 * `filespace meta serve|token` and `filespace snapshot …` as real processes (built CLI) on a
 * file:// store: serving, the ops endpoint, snapshots through the CLI, flag errors naming the flag.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/filespace.js", import.meta.url));
let dir: string;
let server: ChildProcess;
let address: string;
let http: string;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "" },
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
  dir = await mkdtemp(join(tmpdir(), "filespace-cli-meta-"));
  await writeFile(join(dir, "meta.key"), randomBytes(32).toString("base64"));
  const args = [
    BIN,
    "meta",
    "serve",
    `file://${join(dir, "store")}`,
    "--listen",
    "127.0.0.1:0",
    "--http",
    "127.0.0.1:0",
  ];
  server = spawn(process.execPath, [...args, "--meta-key-file", join(dir, "meta.key")], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on("data", (d) => {
      out += d;
      const m = /on (127\.0\.0\.1:\d+).*ops on http:\/\/(127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        address = m[1]!;
        http = m[2]!;
        resolve();
      }
    });
    server.on("exit", (code) => reject(new Error(`meta serve exited ${code}`)));
  });
});
afterAll(async () => {
  try {
    process.kill(-server.pid!, "SIGKILL");
  } catch {
    // gone
  }
  await rm(dir, { recursive: true, force: true });
});

describe("filespace meta | snapshot", () => {
  it("serves probes and metrics", async () => {
    expect((await fetch(`http://${http}/readyz`)).status).toBe(200);
    expect((await fetch(`http://${http}/healthz`)).status).toBe(200);
    expect(await (await fetch(`http://${http}/metrics`)).text()).toContain("filespace_meta_epoch 1");
  });

  it("creates, lists and deletes snapshots with an admin token; a rw token may not", async () => {
    const key = ["--meta-key-file", join(dir, "meta.key")];
    const admin = (await run(["meta", "token", ...key, "--mode", "admin"])).stdout.trim();
    const rw = (await run(["meta", "token", ...key, "--mode", "rw"])).stdout.trim();
    const created = await run(["snapshot", "create", "nightly-1", "--meta", address, "--token", admin]);
    expect(created.stderr).toBe("");
    expect(created.stdout).toMatch(/created snapshot nightly-1 at version \d+/);
    const list = await run(["snapshot", "list", "--meta", address, "--token", admin, "--json"]);
    expect(JSON.parse(list.stdout).map((s: { name: string }) => s.name)).toContain("nightly-1");
    const denied = await run(["snapshot", "create", "x", "--meta", address, "--token", rw]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/EACCES/);
    expect((await run(["snapshot", "delete", "nightly-1", "--meta", address, "--token", admin])).code).toBe(0);
    const after = await run(["snapshot", "list", "--meta", address, "--token", admin, "--json"]);
    expect(JSON.parse(after.stdout).map((s: { name: string }) => s.name)).not.toContain("nightly-1");
  });

  it("names the flag in usage errors", async () => {
    const bad = await run(["snapshot", "list", "--meta", "nohost", "--token", "t"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--meta: expected HOST:PORT/);
    const noKey = await run(["meta", "serve", "file:///tmp/x", "--listen", "127.0.0.1:0"]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--meta-key-file/);
  });
});
