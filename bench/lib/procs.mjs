/**
 * Process and cleanup management for benchmarks: every child runs in its own process group
 * (detached) so teardown can kill the whole group; every resource registers a cleanup that
 * runs once, in reverse order, on normal exit, on error and on SIGINT/SIGTERM — nothing a
 * benchmark starts may outlive it.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const cleanups = [];
let cleaning = null;

/** Registers `fn` to run at teardown (LIFO). Returns a function that runs it early, once. */
export function onCleanup(label, fn) {
  const entry = { label, fn, done: false };
  cleanups.push(entry);
  return async () => {
    if (entry.done) return;
    entry.done = true;
    await fn();
  };
}

/** Runs every registered cleanup (each at most once, errors logged, never thrown). */
export function cleanupAll() {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const entry = cleanups.pop();
      if (entry.done) continue;
      entry.done = true;
      try {
        await entry.fn();
      } catch (err) {
        process.stderr.write(`cleanup ${entry.label}: ${err.message}\n`);
      }
    }
  })();
  return cleaning;
}

/** Installs SIGINT/SIGTERM handlers that clean up and exit. */
export function trapSignals() {
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up…\n`);
      cleanupAll().finally(() => process.exit(130));
    });
  }
}

/** A fresh temp dir removed at teardown. */
export async function tempDir(prefix) {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  onCleanup(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A free loopback port (bound then released; fine for benchmarks). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Starts a long-lived service in its own process group. Waits until `ready` (a RegExp on
 * stdout+stderr, or an async predicate) holds, up to `timeoutMs`. The returned handle's
 * stop() sends SIGTERM to the group, then SIGKILL after `graceMs`.
 */
export async function startService(
  label,
  cmd,
  args,
  { env, ready, timeoutMs = 30_000, graceMs = 3000, cwd, cpus } = {},
) {
  // `cpus` (a taskset list, e.g. "0"): keep the service off the CPUs the measured clients use.
  if (cpus) [cmd, args] = ["taskset", ["-c", cpus, cmd, ...args]];
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: env ?? process.env,
    cwd,
  });
  let output = "";
  let exited = null;
  const exitedP = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  const collect = (d) => {
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  child.on("error", (err) => {
    output += `\nspawn error: ${err.message}`;
    exited ??= { code: -1, signal: null };
  });
  const stop = onCleanup(`stop ${label}`, async () => {
    if (exited) return;
    killGroup(child, "SIGTERM");
    const t = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
    await exitedP;
    clearTimeout(t);
    killGroup(child, "SIGKILL"); // stragglers in the group
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${label} exited (${JSON.stringify(exited)}) before ready:\n${output.slice(-2000)}`);
    const ok = ready instanceof RegExp ? ready.test(output) : ready ? await ready() : true;
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${label} not ready after ${timeoutMs} ms:\n${output.slice(-2000)}`);
    }
    await sleep(50);
  }
  return { child, label, stop, output: () => output, exited: () => exited, exitedP };
}

/**
 * Runs a command to completion (own process group, killed on timeout). Resolves with
 * { code, signal, stdout, stderr, ms, timedOut }; never rejects on a non-zero exit.
 */
export function run(cmd, args, { env, timeoutMs = 600_000, cwd, input, onStdout } = {}) {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(cmd, args, { detached: true, stdio: ["pipe", "pipe", "pipe"], env: env ?? process.env, cwd });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const release = onCleanup(`kill ${cmd}`, () => killGroup(child, "SIGKILL"));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, "SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (d) => {
      stdout += d.toString();
      onStdout?.(d.toString());
    });
    child.stderr.on("data", (d) => {
      stderr += d.toString();
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
    const finish = (code, signal) => {
      clearTimeout(timer);
      release();
      resolve({ code, signal, stdout, stderr, ms: performance.now() - start, timedOut });
    };
    child.on("error", (err) => {
      stderr += `spawn error: ${err.message}`;
      finish(-1, null);
    });
    child.on("close", finish);
  });
}

/** Like run() but throws when the command fails. */
export async function runOk(cmd, args, options) {
  const r = await run(cmd, args, options);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${r.timedOut ? "timeout" : `exit ${r.code ?? r.signal}`}): ${r.stderr.slice(-1500)}`,
    );
  }
  return r;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * CPU seconds (user + system, all threads) that the processes `pids` have used so far (Linux
 * /proc; a process that has exited counts 0). For store-side cost per MiB next to a client's.
 */
export async function cpuSecondsOf(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
  }
  return ticks / 100; // USER_HZ is 100 on every Linux we run on
}
