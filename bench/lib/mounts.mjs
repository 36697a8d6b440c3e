/**
 * FUSE mount helpers for benchmarks: wait for a mount to appear, unmount it politely, then
 * lazily, then by aborting its FUSE connection (the only thing that frees a wedged mount on
 * these machines, see docs ENVIRONMENT.md).
 */
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { run, sleep } from "./procs.mjs";

/** The mountinfo line of `dir` (resolved), or undefined. */
export async function mountEntry(dir) {
  const target = path.resolve(dir);
  const info = await readFile("/proc/self/mountinfo", "utf8");
  for (const line of info.split("\n")) {
    const f = line.split(" ");
    if (f[4] === target) {
      const sep = f.indexOf("-");
      return { majorMinor: f[2], fstype: f[sep + 1], source: f[sep + 2] };
    }
  }
  return undefined;
}

export async function isMounted(dir) {
  return (await mountEntry(dir)) !== undefined;
}

/** Polls until `dir` is a FUSE mount (or `alive()` says the serving process died). */
export async function waitMounted(dir, { timeoutMs = 30_000, alive = () => true } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const e = await mountEntry(dir);
    if (e?.fstype.startsWith("fuse")) return e;
    if (!alive()) throw new Error(`mount process for ${dir} exited before the mount appeared`);
    await sleep(50);
  }
  throw new Error(`${dir} not mounted after ${timeoutMs} ms`);
}

async function abortConnection(majorMinor) {
  const conns = "/sys/fs/fuse/connections";
  if (!existsSync(path.join(conns, "..")) || !majorMinor) return;
  if ((await readdir(conns).catch(() => [])).length === 0) {
    await run("mount", ["-t", "fusectl", "none", conns], { timeoutMs: 5000 });
  }
  const minor = majorMinor.split(":")[1];
  await writeFile(path.join(conns, minor, "abort"), "1").catch(() => undefined);
}

/**
 * Unmounts `dir`: `fusermount3 -u`, retried for `politeMs` (a peer may still be flushing),
 * then lazy `-uz` plus a FUSE connection abort. Returns how it ended.
 */
export async function unmount(dir, { politeMs = 10_000 } = {}) {
  const entry = await mountEntry(dir);
  if (!entry) return "not-mounted";
  const deadline = Date.now() + politeMs;
  while (Date.now() < deadline) {
    const r = await run("fusermount3", ["-u", dir], { timeoutMs: 10_000 });
    if (r.code === 0 || !(await isMounted(dir))) return "unmounted";
    await sleep(250);
  }
  await run("fusermount3", ["-uz", dir], { timeoutMs: 10_000 });
  await abortConnection(entry.majorMinor);
  return "forced";
}

/** Drops the kernel page cache so a "warm" read measures the mount's own cache, not RAM. */
export async function dropPageCache() {
  await run("sync", [], { timeoutMs: 60_000 });
  await writeFile("/proc/sys/vm/drop_caches", "1").catch(() => undefined);
}
