/**
 * Real mounts for tests: `filespace mount` (the built CLI, dist/) in its own process group over a
 * file:// store in a temp dir; the test talks to it from this process and shell tools, and
 * reaches its control socket like the CLI does. Teardown unmounts; a stuck mount is aborted
 * through fusectl (engine/test/fuse/helpers.ts).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { controlRequest, findMount } from "../../src/mount/index.js";
import { cleanupDir, forceUnmount, isMounted, sleep } from "../fuse/helpers.js";

export const CLI = fileURLToPath(new URL("../../../cli/bin/filespace.js", import.meta.url));

export interface Filespace {
  dir: string;
  storeUrl: string;
  storeDir: string;
  passFile: string;
  env: NodeJS.ProcessEnv;
}

/** A new filespace in a temp dir (cheap KDF so tests stay fast). */
export function newFilespace(): Filespace {
  const dir = mkdtempSync(join(tmpdir(), "fs-mount-"));
  const storeDir = join(dir, "store");
  mkdirSync(storeDir);
  const passFile = join(dir, "pass");
  writeFileSync(passFile, "mount-test-passphrase\n");
  const storeUrl = `file://${storeDir}`;
  const env = { ...process.env, FILESPACE_PASSPHRASE: "" };
  execFileSync(process.execPath, [CLI, "init", storeUrl, "--kdf-n", "1024", "--passphrase-file", passFile], {
    env,
    stdio: "pipe",
  });
  return { dir, storeUrl, storeDir, passFile, env };
}

export interface Mounted {
  mnt: string;
  cacheDir: string;
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  /** `filespace unmount` (drains uploads); returns its stdout. */
  unmount(force?: boolean): Promise<string>;
  /** SIGKILL the mount process and clean the kernel side. */
  kill9(): Promise<void>;
  cleanup(): Promise<void>;
}

const run = promisify(execFile);

/** Runs the CLI (async: a blocked event loop would starve vitest's worker RPC). */
export async function cli(fs: Filespace, args: string[], timeout = 60_000): Promise<string> {
  return (await run(process.execPath, [CLI, ...args], { env: fs.env, encoding: "utf8", timeout })).stdout;
}

/** `filespace mount` arguments every test mount shares (small cache, fast lease for restarts). */
export function mountArgs(fs: Filespace, mnt: string, cacheDir: string): string[] {
  return [
    "mount",
    fs.storeUrl,
    mnt,
    "--cache-dir",
    cacheDir,
    "--cache-size",
    "1GiB",
    "--passphrase-file",
    fs.passFile,
    "--lease-ttl",
    "2000",
  ];
}

export async function mount(
  fs: Filespace,
  opts: { mnt?: string; cacheDir?: string; args?: string[] } = {},
): Promise<Mounted> {
  const mnt = opts.mnt ?? join(fs.dir, "mnt");
  const cacheDir = opts.cacheDir ?? join(fs.dir, "cache");
  mkdirSync(mnt, { recursive: true });
  const args = [CLI, ...mountArgs(fs, mnt, cacheDir), ...(opts.args ?? [])];
  const proc = spawn(process.execPath, args, { detached: true, env: fs.env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) throw new Error(`mount exited before it was ready: ${err}`);
    if (Date.now() > deadline) throw new Error(`mount not ready after 30 s: ${err}`);
    try {
      const found = findMount(mnt);
      if (found.mountpoint === mnt && isMounted(mnt) && (await controlRequest(found.socket, { op: "stats" })).ok) break;
    } catch {}
    await sleep(100);
  }
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-(proc.pid as number), sig);
    } catch {}
  };
  return {
    mnt,
    cacheDir,
    proc,
    stderr: () => err,
    exited,
    unmount(force = false) {
      return cli(fs, ["unmount", mnt, ...(force ? ["--force"] : [])], 300_000);
    },
    async kill9() {
      killGroup("SIGKILL");
      await Promise.race([exited, sleep(5000)]);
      forceUnmount(mnt);
    },
    async cleanup() {
      if (!gone) {
        killGroup("SIGTERM");
        await Promise.race([exited, sleep(10_000)]);
      }
      forceUnmount(mnt);
      killGroup("SIGKILL");
    },
  };
}

/** Run a shell script with `cwd`; throws with its output when it fails. */
export async function sh(script: string, cwd: string, timeout = 120_000): Promise<string> {
  try {
    return (
      await run("bash", ["-euo", "pipefail", "-c", script], { cwd, encoding: "utf8", timeout, maxBuffer: 64 << 20 })
    ).stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${script}\n--- failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

/** md5 of every regular file below `dir`, sorted by path (a manifest to compare trees). */
export function manifest(dir: string): Promise<string> {
  return sh("find . -type f -print0 | sort -z | xargs -0 -r md5sum", dir, 300_000);
}

export { cleanupDir, isMounted, sleep };
