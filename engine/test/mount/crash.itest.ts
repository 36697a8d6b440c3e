/**
 * Crash test: SIGKILL the mount process in the middle of a write-heavy workload that fsyncs,
 * mount again on the same cache directory (its write-back log is replayed and uploaded), and
 * check that every fsynced byte is there and that no file is torn: what a file holds is always
 * a prefix of what was written to it, at least as long as its last fsync. Small files created
 * and fsynced (with their directory) along the way all exist with their content.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { PYTHON } from "../fuse/helpers.js";
import { cleanupDir, type Filespace, type Mounted, mount, newFilespace, sh, sleep } from "./helpers.js";

// Appends deterministic 48 KiB records to 4 files; fsyncs every 3 records and then records
// how many bytes of each file are fsynced in a state file outside the mount.
const WRITER = `
import os, sys, hashlib, json
mnt, state = sys.argv[1], sys.argv[2]
REC = 48 * 1024
def record(k, i):
    seed = hashlib.sha256(f"{k}:{i}".encode()).digest()
    return (seed * (REC // len(seed) + 1))[:REC]
fds = [os.open(os.path.join(mnt, f"w{k}.dat"), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644) for k in range(4)]
os.makedirs(os.path.join(mnt, "small"), exist_ok=True)
synced = [0, 0, 0, 0]
small = 0
i = 0
while True:
    for k, fd in enumerate(fds):
        os.write(fd, record(k, i))
    i += 1
    if i % 3 == 0:
        for k, fd in enumerate(fds):
            os.fsync(fd)
            synced[k] = i * REC
        # and a new small file, fsynced with its directory: creates survive the crash too
        p = os.path.join(mnt, "small", f"s{small:05}.dat")
        with open(p, "wb") as f:
            f.write(record(9, small)[:1000 + small]); f.flush(); os.fsync(f.fileno())
        dfd = os.open(os.path.join(mnt, "small"), os.O_RDONLY); os.fsync(dfd); os.close(dfd)
        small += 1
        tmp = state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(synced + [small], f); f.flush(); os.fsync(f.fileno())
        os.rename(tmp, state)
`;

const EXPECT = `
import hashlib, sys, json, os
mnt, state = sys.argv[1], sys.argv[2]
REC = 48 * 1024
synced = json.load(open(state))
def record(k, i):
    seed = hashlib.sha256(f"{k}:{i}".encode()).digest()
    return (seed * (REC // len(seed) + 1))[:REC]
out = []
for k in range(4):
    data = open(os.path.join(mnt, f"w{k}.dat"), "rb").read()
    full = len(data) // REC
    good = all(data[i*REC:(i+1)*REC] == record(k, i) for i in range(full))
    tail = data[full*REC:]
    tail_ok = record(k, full)[:len(tail)] == tail
    out.append({"size": len(data), "synced": synced[k], "prefixOk": good and tail_ok})
small_ok = all(
    open(os.path.join(mnt, "small", f"s{n:05}.dat"), "rb").read() == record(9, n)[:1000 + n]
    for n in range(synced[4]))
print(json.dumps({"files": out, "small": synced[4], "smallOk": small_ok}))
`;

describe("crash of the mount process", () => {
  let fs: Filespace;
  let m: Mounted | undefined;

  afterEach((ctx) => {
    // the mount's own log is the first thing to read when a step fails
    if (ctx.task.result?.state === "fail" && m) process.stderr.write(`--- mount log:\n${m.stderr()}\n`);
  });

  afterAll(async () => {
    await m?.cleanup();
    if (fs) cleanupDir(fs.dir);
  });

  it("kill -9 during fsyncing writes, remount: every fsynced byte is there, no file torn", async () => {
    fs = newFilespace();
    m = await mount(fs);
    const state = join(fs.dir, "synced.json");
    const writer = spawn(PYTHON, ["-c", WRITER, m.mnt, state], { stdio: ["ignore", "ignore", "pipe"] });
    let werr = "";
    writer.stderr?.on("data", (d: Buffer) => {
      werr += d.toString();
    });
    // Let it run until a fair amount is fsynced (several MiB), then kill the mount hard.
    const deadline = Date.now() + 60_000;
    for (;;) {
      await sleep(200);
      let synced = 0;
      try {
        synced = (JSON.parse(readFileSync(state, "utf8")) as number[])[0] ?? 0;
      } catch {}
      if (synced >= 6 * 1024 * 1024) break;
      if (Date.now() > deadline) throw new Error(`writer too slow (synced ${synced}); ${werr}`);
      if (writer.exitCode !== null) throw new Error(`writer died: ${werr}`);
    }
    await m.kill9();
    writer.kill("SIGKILL");
    const synced = JSON.parse(readFileSync(state, "utf8")) as number[];
    expect(synced[0]).toBeGreaterThan(0);

    m = await mount(fs); // same cache dir: the write-back log is replayed
    const result = JSON.parse(await sh(`${PYTHON} -c '${EXPECT}' ${m.mnt} ${state}`, fs.dir)) as {
      files: Array<{ size: number; synced: number; prefixOk: boolean }>;
      small: number;
      smallOk: boolean;
    };
    for (const r of result.files) {
      expect(r.prefixOk).toBe(true);
      expect(r.size).toBeGreaterThanOrEqual(r.synced);
    }
    expect(result.small).toBeGreaterThan(10);
    expect(result.smallOk).toBe(true);
    // And it reached the store: unmount, mount with an empty cache, check again.
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = await mount(fs, { cacheDir: join(fs.dir, "cache-empty") });
    const again = JSON.parse(await sh(`${PYTHON} -c '${EXPECT}' ${m.mnt} ${state}`, fs.dir)) as typeof result;
    expect(again).toEqual(result);
  }, 240_000);
});
