/**
 * Test helpers for real kernel mounts: a MemoryVfs served by engine/dist/fuse/serve-memory.js in
 * its own process group (a process must not do I/O on a mount it serves), driven from the test
 * process and shell tools. Teardown unmounts; a stuck mount is aborted through fusectl.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const SERVE = fileURLToPath(new URL("../../dist/fuse/serve-memory.js", import.meta.url));
export const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
export const NATIVE_BUILT = existsSync(
  fileURLToPath(new URL("../../native/build/Release/filespace_fuse.node", import.meta.url)),
);
export const BINDINGS = (["native", "fuse-native"] as const).filter((b) => b !== "native" || NATIVE_BUILT);

export interface Server {
  mnt: string;
  dir: string;
  proc: ChildProcess;
  binding: string;
  /** Send a control command; resolves with the server's JSON answer. */
  send(cmd: object): Promise<{ ok: boolean; error?: string }>;
  stop(): Promise<void>;
}

/** Read JSON lines from a child's stdout, one promise per line. */
function lineReader(proc: ChildProcess) {
  const queue: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  if (proc.stdout) {
    createInterface({ input: proc.stdout }).on("line", (l) => {
      const w = waiters.shift();
      if (w) w(l);
      else queue.push(l);
    });
  }
  return (timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const q = queue.shift();
      if (q !== undefined) return resolve(q);
      const t = setTimeout(() => reject(new Error("timed out waiting for the server")), timeoutMs);
      waiters.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
}

export async function startServer(opts: {
  binding: string;
  args?: string[];
  mnt?: string;
  dir?: string;
}): Promise<Server> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "fs-fuse-"));
  chmodSync(dir, 0o755); // permission tests run as nobody, who must reach the mount point
  const mnt = opts.mnt ?? join(dir, "mnt");
  spawnSync("mkdir", ["-p", mnt]);
  const args = [SERVE, "--binding", opts.binding, ...(opts.args ?? [])];
  if (!opts.args?.includes("--adopt")) args.push("--mountpoint", mnt);
  const proc = spawn(process.execPath, args, { detached: true, stdio: ["pipe", "pipe", "inherit"] });
  const next = lineReader(proc);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const first = await Promise.race([
    next(),
    exited.then(() => {
      throw new Error("mount server exited before it was ready");
    }),
  ]);
  const ready = JSON.parse(first) as { ready: boolean; binding: string };
  if (!ready.ready) throw new Error(`server not ready: ${first}`);
  return {
    mnt,
    dir,
    proc,
    binding: ready.binding,
    async send(cmd) {
      proc.stdin?.write(`${JSON.stringify(cmd)}\n`);
      return JSON.parse(await next()) as { ok: boolean; error?: string };
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        try {
          process.kill(-(proc.pid as number), "SIGTERM");
        } catch {}
        await Promise.race([exited, sleep(3000)]);
      }
      forceUnmount(mnt);
      try {
        process.kill(-(proc.pid as number), "SIGKILL");
      } catch {}
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function isMounted(mnt: string): boolean {
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[1] === mnt);
}

/** Unmount; if the connection is stuck, abort it through fusectl first. */
export function forceUnmount(mnt: string): void {
  if (!isMounted(mnt)) return;
  let minor: number | undefined;
  try {
    const dev = statSync(mnt, { bigint: false }).dev;
    // glibc dev_t → minor number (the fusectl connection of an anonymous device is its minor).
    minor = (dev & 0xff) | ((dev >>> 12) & ~0xff);
  } catch {}
  if (spawnSync("umount", [mnt]).status === 0) return;
  if (!existsSync("/sys/fs/fuse/connections") || !readFileSync("/proc/mounts", "utf8").includes("fusectl")) {
    spawnSync("mount", ["-t", "fusectl", "none", "/sys/fs/fuse/connections"]);
  }
  if (minor !== undefined) spawnSync("sh", ["-c", `echo 1 > /sys/fs/fuse/connections/${minor}/abort`]);
  spawnSync("umount", ["-l", mnt]);
}

export function cleanupDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {}
}

/** Run a command as nobody:nogroup; returns {status, stdout, stderr}. */
export function asNobody(script: string) {
  const r = spawnSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", script], {
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function python(code: string, args: string[] = [], timeout = 30_000): string {
  return execFileSync(PYTHON, ["-c", code, ...args], { encoding: "utf8", timeout });
}
