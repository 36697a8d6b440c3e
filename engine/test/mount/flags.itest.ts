/**
 * The mount's user-facing flags and by-mount-point commands, each on a real mount of one
 * filespace: `--metrics` (scraped), `filespace stats` (hits, egress, backlog, prefetch accuracy,
 * as text), `warm` with its progress bar (under a pty), `pin` keeping data in the disk cache
 * across a restart, `--read-only`, `--snapshot NAME` and `--daemon`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CLI,
  cleanupDir,
  cli,
  type Filespace,
  isMounted,
  type Mounted,
  mount,
  mountArgs,
  newFilespace,
  sh,
  sleep,
} from "./helpers.js";

interface Stats {
  cache: { memoryHits: number; diskHits: number; diskBytes: number; pinnedBytes: number };
  egress: { bytes: number; requests: number };
  upload: { backlogBytes: number; backlogSegments: number };
  prefetch: { blocksPrefetched: number; blocksUsed: number; accuracy: number | null };
  pins: string[];
}

const MiB = 1024 * 1024;
const stats = async (fs: Filespace, mnt: string) => JSON.parse(await cli(fs, ["stats", mnt, "--json"])) as Stats;

/** `--metrics 127.0.0.1:0` picks a free port; the mount logs the address it took. */
function metricsUrl(m: Mounted): string {
  const found = /metrics (http:\/\/\S+\/metrics)/.exec(m.stderr());
  if (!found?.[1]) throw new Error(`no metrics address in the mount log: ${m.stderr()}`);
  return found[1];
}

function metricValue(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`${name} not in the scrape`);
  return Number(line.split(" ")[1]);
}

describe("mount flags and by-mount-point commands", () => {
  let fs: Filespace;
  let m: Mounted | undefined;
  let daemonPid: number | undefined;
  const sums: Record<string, string> = {};

  beforeAll(async () => {
    fs = newFilespace();
    m = await mount(fs);
    await sh(
      `mkdir shots && for i in 1 2 3 4; do head -c ${2 * MiB} /dev/urandom > shots/frame_000$i.bin; done
       head -c ${24 * MiB} /dev/urandom > big.bin && echo v1 > doc.txt`,
      m.mnt,
    );
    sums.big = await sh("md5sum < big.bin", m.mnt);
    sums.shots = await sh("cat shots/* | md5sum", m.mnt);
    expect(await cli(fs, ["snapshot", "create", "snap1", m.mnt])).toContain("snap1");
    await sh("echo v2 > doc.txt", m.mnt);
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = undefined;
  }, 120_000);

  afterEach((ctx) => {
    // the mount's own log is the first thing to read when a step fails
    if (ctx.task.result?.state === "fail" && m) process.stderr.write(`--- mount log:\n${m.stderr()}\n`);
  });

  afterAll(async () => {
    await m?.cleanup();
    if (daemonPid)
      try {
        process.kill(-daemonPid, "SIGKILL");
      } catch {}
    if (fs) cleanupDir(fs.dir);
  });

  it("--metrics is scraped and `stats` shows hits, egress, backlog and prefetch accuracy", async () => {
    m = await mount(fs, { cacheDir: join(fs.dir, "cache-a"), args: ["--metrics", "127.0.0.1:0"] });
    const url = metricsUrl(m);
    const before = await (await fetch(url)).text();
    expect(metricValue(before, "filespace_store_bytes_fetched")).toBe(0);
    expect(await sh("md5sum < big.bin", m.mnt)).toBe(sums.big); // cold: every byte from the store
    const cold = await stats(fs, m.mnt);
    expect(cold.egress.bytes).toBeGreaterThanOrEqual(24 * MiB);
    expect(cold.prefetch.blocksPrefetched).toBeGreaterThan(0);
    expect(cold.prefetch.accuracy).toBeGreaterThan(0.5); // a sequential read uses what it prefetched
    const after = await (await fetch(url)).text();
    expect(metricValue(after, "filespace_store_bytes_fetched")).toBe(cold.egress.bytes);
    expect(metricValue(after, "filespace_disk_cache_max_bytes")).toBe(1024 ** 3);
    expect(cold.cache.memoryHits + cold.cache.diskHits).toBeGreaterThan(0); // prefetched blocks, then used
    // Blocks were opened into reused plaintext slots, and the cache files written around the page cache.
    expect(cold.cache.slabSlots).toBeGreaterThan(0);
    expect(cold.cache.slabInUse).toBeLessThanOrEqual(cold.cache.slabSlots);
    expect(cold.cache.diskIoDirect).toBeGreaterThan(0);
    // The same file again comes from the caches (the kernel's, or ours): egress does not grow.
    expect(await sh("md5sum < big.bin", m.mnt)).toBe(sums.big);
    expect((await stats(fs, m.mnt)).egress.bytes).toBe(cold.egress.bytes);
    const text = await cli(fs, ["stats", m.mnt]);
    expect(text).toMatch(/cache hits\s+memory \d+, disk \d+ \(hit rate [\d.]+ %\)/);
    expect(text).toMatch(/egress\s+[\d.]+ (B|KiB|MiB|GiB) in \d+ range GETs/);
    expect(text).toMatch(/memory\s+\d+ plaintext slots, \d+ in use, \d+ blocks found none free/);
    expect(text).toMatch(/disk cache I\/O \d+ direct, \d+ through the page cache/);
    expect(text).toMatch(
      /upload backlog\s+[\d.]+ (B|KiB|MiB|GiB) in \d+ segment\(s\); uploaded [\d.]+ (B|KiB|MiB|GiB), \d+ commits/,
    );
    expect(text).toMatch(/prefetch\s+.* issued; accuracy [\d.]+ %/);
  }, 120_000);

  it("`warm` draws a progress bar on a terminal and fills the cache; `pin` keeps it across a restart", async () => {
    if (!m) throw new Error("no mount");
    const egress0 = (await stats(fs, m.mnt)).egress.bytes;
    // `script` gives the CLI a pty, so it draws the bar it shows a user.
    const out = execFileSync(
      "script",
      ["-qec", `${process.execPath} ${CLI} warm ${join(m.mnt, "shots")}`, "/dev/null"],
      {
        env: fs.env,
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    expect(out).toMatch(/warming \[[█░]+\] 100%/);
    expect(out).toContain("4/4 files");
    expect(out).toContain("warmed 4 files, 8 MiB");
    const warmed = await stats(fs, m.mnt);
    expect(warmed.egress.bytes - egress0).toBeGreaterThanOrEqual(8 * MiB);
    expect(await sh("cat shots/* | md5sum", m.mnt)).toBe(sums.shots);
    expect((await stats(fs, m.mnt)).egress.bytes).toBe(warmed.egress.bytes); // all from the cache

    expect(await cli(fs, ["pin", join(m.mnt, "shots")])).toMatch(/pinned .*shots \(\d+ chunks\)/);
    const pinned = await stats(fs, m.mnt);
    expect(pinned.pins).toEqual(["shots"]);
    expect(pinned.cache.pinnedBytes).toBeGreaterThanOrEqual(8 * MiB);
    // Restart on the same cache dir: the pin list and the pinned blocks are still there.
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = await mount(fs, { cacheDir: join(fs.dir, "cache-a") });
    const restarted = await stats(fs, m.mnt);
    expect(restarted.pins).toEqual(["shots"]);
    expect(await sh("cat shots/* | md5sum", m.mnt)).toBe(sums.shots);
    const reread = await stats(fs, m.mnt);
    expect(reread.egress.bytes).toBe(restarted.egress.bytes);
    expect(reread.cache.diskHits).toBeGreaterThan(restarted.cache.diskHits); // served from the pinned blocks
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = undefined;
  }, 120_000);

  it("--read-only serves the files and refuses every change", async () => {
    m = await mount(fs, { cacheDir: join(fs.dir, "cache-ro"), args: ["--read-only"] });
    expect(await sh("cat doc.txt", m.mnt)).toBe("v2\n");
    expect(await sh("md5sum < big.bin", m.mnt)).toBe(sums.big);
    const tries = await sh(
      `for op in "echo x > doc.txt" "echo x > new.txt" "mkdir d" "rm doc.txt" "mv doc.txt d.txt" "truncate -s 0 big.bin"; do
         (eval "$op") 2>&1 || true; done`,
      m.mnt,
    );
    expect(tries.trim().split("\n")).toHaveLength(6);
    for (const line of tries.trim().split("\n")) expect(line).toMatch(/Read-only file system/);
    expect(await sh("cat doc.txt && ls", m.mnt)).toBe("v2\nbig.bin\ndoc.txt\nshots\n");
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = undefined;
  }, 120_000);

  it("--snapshot NAME mounts the snapshot's view, read-only", async () => {
    m = await mount(fs, { cacheDir: join(fs.dir, "cache-snap"), args: ["--snapshot", "snap1"] });
    expect(await sh("cat doc.txt", m.mnt)).toBe("v1\n");
    expect(await sh("md5sum < big.bin", m.mnt)).toBe(sums.big);
    expect(await sh("(echo x > doc.txt) 2>&1 || true", m.mnt)).toMatch(/Read-only file system/);
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = undefined;
    const missing = await mount(fs, { cacheDir: join(fs.dir, "cache-snap"), args: ["--snapshot", "no-such"] }).then(
      async (mm) => {
        await mm.cleanup();
        return "mounted";
      },
      (e: Error) => e.message,
    );
    expect(missing).toMatch(/--snapshot: no snapshot named "no-such" \(have: snap1\)/);
  }, 120_000);

  it("--daemon returns once the mount serves, logs under the cache dir, and `unmount` ends it", async () => {
    const mnt = join(fs.dir, "mnt-daemon");
    const cacheDir = join(fs.dir, "cache-daemon");
    execFileSync("mkdir", ["-p", mnt]);
    const out = await cli(fs, [...mountArgs(fs, mnt, cacheDir), "--daemon"]);
    const pid = Number(/pid (\d+)/.exec(out)?.[1]);
    daemonPid = pid;
    expect(out).toMatch(new RegExp(`mounted on ${mnt} \\(pid \\d+; log ${cacheDir}/mount-\\S+\\.log\\)`));
    expect(isMounted(mnt)).toBe(true);
    expect(await sh("cat doc.txt && echo from-daemon > d.txt && cat d.txt", mnt)).toBe("v2\nfrom-daemon\n");
    expect(await cli(fs, ["unmount", mnt])).toContain("every upload committed");
    for (let i = 0; i < 100 && processAlive(pid); i++) await sleep(100);
    expect(processAlive(pid)).toBe(false);
    daemonPid = undefined;
    expect(isMounted(mnt)).toBe(false);
    const logs = readdirSync(cacheDir).filter((f) => f.endsWith(".log"));
    expect(logs).toHaveLength(1);
    expect(existsSync(join(cacheDir, logs[0] ?? ""))).toBe(true);
    expect(await sh(`cat ${join(cacheDir, logs[0] ?? "")}`, fs.dir)).toContain("every upload committed");
  }, 120_000);

  it("flag mistakes are usage errors that name the flag", async () => {
    const mnt = join(fs.dir, "mnt-bad");
    const tryMount = (extra: string[]) =>
      cli(fs, ["mount", fs.storeUrl, mnt, "--passphrase-file", fs.passFile, ...extra]).then(
        () => "mounted",
        (e: { stderr?: string }) => e.stderr ?? "",
      );
    expect(await tryMount(["--max-backlog", "100"])).toMatch(/--max-backlog: expected at least 1MiB/);
    expect(await tryMount(["--backlog-wait", "soon"])).toMatch(/--backlog-wait: /);
    expect(await tryMount(["--cache-size", "10MiB"])).toMatch(/--cache-size: expected at least 1GiB/);
    expect(await tryMount(["--metrics", "nowhere"])).toMatch(/--metrics: expected HOST:PORT/);
    expect(isMounted(mnt)).toBe(false);
  }, 60_000);
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
