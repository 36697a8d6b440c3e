/**
 * `filespace mount --meta HOST:PORT`: the metadata service runs as its own process
 * (`filespace meta serve`), the mount talks gRPC to it. Data written through the mount is read
 * back; while the service is down, a file read before stays readable from the cache, and writes
 * queue in the write-back log up to its bound (`--max-backlog`), then fail with ENOSPC and a
 * mount log line that says why.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { PYTHON } from "../fuse/helpers.js";
import { CLI, cleanupDir, cli, type Filespace, type Mounted, mount, newFilespace, sh, sleep } from "./helpers.js";

function serveMeta(fs: Filespace, keyFile: string, port = 0): Promise<{ proc: ChildProcess; address: string }> {
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "meta",
      "serve",
      fs.storeUrl,
      "--listen",
      `127.0.0.1:${port}`,
      "--meta-key-file",
      keyFile,
      "--takeover",
      "--lease-ttl",
      "2000",
    ],
    { detached: true, env: fs.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let err = "";
    proc.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    proc.once("exit", () => reject(new Error(`meta serve exited: ${err}`)));
    createInterface({ input: proc.stdout! }).once("line", (line) => {
      const m = /serving filespace metadata on (\S+)/.exec(line);
      if (m?.[1]) resolve({ proc, address: m[1] });
      else reject(new Error(`unexpected: ${line}`));
    });
  });
}

const killGroup = (p: ChildProcess | undefined, sig: NodeJS.Signals) => {
  try {
    if (p?.pid) process.kill(-p.pid, sig);
  } catch {}
};

describe("mount against a remote metadata service", () => {
  let fs: Filespace;
  let m: Mounted | undefined;
  let meta: ChildProcess | undefined;

  afterEach((ctx) => {
    // the mount's own log is the first thing to read when a step fails
    if (ctx.task.result?.state === "fail" && m) process.stderr.write(`--- mount log:\n${m.stderr()}\n`);
  });

  afterAll(async () => {
    await m?.cleanup();
    killGroup(meta, "SIGKILL");
    if (fs) cleanupDir(fs.dir);
  });

  it("reads and writes through --meta; cached files stay readable while the service is down", async () => {
    fs = newFilespace();
    const keyFile = join(fs.dir, "meta.key");
    writeFileSync(keyFile, await cli(fs, ["key", "meta-key", fs.storeUrl, "--passphrase-file", fs.passFile]));
    const served = await serveMeta(fs, keyFile);
    meta = served.proc;
    const token = (
      await cli(fs, ["meta", "token", "--meta-key-file", keyFile, "--mode", "admin", "--client", "test"])
    ).trim();
    m = await mount(fs, { args: ["--meta", served.address, "--token", token] });
    await sh("mkdir d && head -c 2000000 /dev/urandom > d/data.bin && md5sum < d/data.bin > ../sum", m.mnt);
    expect(await sh("md5sum < d/data.bin", m.mnt)).toBe(await sh("cat sum", fs.dir));
    // commit everything, read once more (cache filled), then take the service away
    await sh("sync", m.mnt);
    await sleep(1500);
    expect(await sh("md5sum < d/data.bin", m.mnt)).toBe(await sh("cat sum", fs.dir));
    killGroup(meta, "SIGKILL");
    await sleep(1500);
    expect(await sh("md5sum < d/data.bin", m.mnt, 60_000)).toBe(await sh("cat sum", fs.dir));
    // service back (same port): new work goes through again
    const port = Number(served.address.split(":").pop());
    meta = (await serveMeta(fs, keyFile, port)).proc;
    // the first calls may still fail fast (circuit breaker, gRPC reconnect backoff)
    const until = Date.now() + 30_000;
    for (;;) {
      const ok = await sh("echo after > after.txt", m.mnt, 60_000).then(
        () => true,
        () => false,
      );
      if (ok) break;
      if (Date.now() > until) throw new Error("writes did not resume after the service came back");
      await sleep(500);
    }
    expect(await sh("cat after.txt", m.mnt)).toBe("after\n");
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = undefined;
  }, 180_000);

  it("unmount --force while commits cannot land leaves them queued; the next mount commits them", async () => {
    const keyFile = join(fs.dir, "meta.key");
    const previous = meta;
    if (previous && previous.exitCode === null) {
      const gone = new Promise((r) => previous.once("exit", r));
      killGroup(previous, "SIGTERM"); // clean stop releases the lease
      await gone;
    }
    const served = await serveMeta(fs, keyFile);
    meta = served.proc;
    const token = (
      await cli(fs, ["meta", "token", "--meta-key-file", keyFile, "--mode", "admin", "--client", "test"])
    ).trim();
    m = await mount(fs, { args: ["--meta", served.address, "--token", token] });
    // Open while the service is up, write after it is gone: the data lands in the local log.
    const go = join(fs.dir, "go");
    const writer = spawn(
      PYTHON,
      [
        "-c",
        `import os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
print("open", flush=True)
while not os.path.exists(sys.argv[2]): time.sleep(0.05)
os.write(fd, b"queued-while-down\\n" * 1000); print("written", flush=True)
os.fsync(fd); print("synced", flush=True)
os.close(fd); print("done", flush=True)`,
        join(m.mnt, "queued.txt"),
        go,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const lines = createInterface({ input: writer.stdout! })[Symbol.asyncIterator]();
    expect((await lines.next()).value).toBe("open");
    killGroup(meta, "SIGKILL");
    writeFileSync(go, "");
    // Each step answers locally (fsync = durable in the local log), none waits for the service.
    for (const step of ["written", "synced", "done"])
      expect(
        await Promise.race([lines.next().then((l) => l.value), sleep(20_000).then(() => "(no answer in 20 s)")]),
        step,
      ).toBe(step);
    const out = await m.unmount(true);
    expect(out).toMatch(/[1-9]\d* write-back segment\(s\).*left queued/);
    await m.exited;
    const again = await serveMeta(fs, keyFile);
    meta = again.proc;
    m = await mount(fs, { args: ["--meta", again.address, "--token", token] });
    expect(await sh("wc -l < queued.txt", m.mnt)).toBe("1000\n");
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = undefined;
  }, 180_000);

  it("service down: writes queue up to --max-backlog, then fail with ENOSPC; cached files stay readable", async () => {
    if (m) {
      await m.cleanup(); // a failed step before left its mount behind
      m = undefined;
    }
    const keyFile = join(fs.dir, "meta.key");
    const previous = meta;
    if (previous && previous.exitCode === null && previous.signalCode === null) {
      const gone = new Promise((r) => previous.once("exit", r));
      killGroup(previous, "SIGTERM"); // clean stop releases the lease
      await gone;
    }
    const served = await serveMeta(fs, keyFile);
    meta = served.proc;
    const address = served.address;
    const token = (
      await cli(fs, ["meta", "token", "--meta-key-file", keyFile, "--mode", "admin", "--client", "test"])
    ).trim();
    m = await mount(fs, {
      args: ["--meta", address, "--token", token, "--max-backlog", "4MiB", "--backlog-wait", "1000"],
    });
    const sum = await sh("cat sum", fs.dir);
    expect(await sh("md5sum < d/data.bin", m.mnt)).toBe(sum); // in the cache now
    const go = join(fs.dir, "go-bounded");
    const writer = spawn(
      PYTHON,
      [
        "-c",
        `import os, sys, time, errno
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
print("open", flush=True)
while not os.path.exists(sys.argv[2]): time.sleep(0.05)
done = 0
try:
    for i in range(24):
        done += os.write(fd, bytes([65 + i]) * (1 << 20))
    print("all", done, flush=True)
except OSError as e:
    print(errno.errorcode[e.errno], done, e.strerror, flush=True)`,
        join(m.mnt, "bounded.bin"),
        go,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const lines = createInterface({ input: writer.stdout! })[Symbol.asyncIterator]();
    expect((await lines.next()).value).toBe("open");
    killGroup(meta, "SIGKILL");
    writeFileSync(go, "");
    const [code, accepted, ...why] = String((await lines.next()).value).split(" ");
    expect(code).toBe("ENOSPC");
    expect(why.join(" ")).toBe("No space left on device");
    // It accepted about the bound: at least 3 MiB, not much more than the 4 MiB limit.
    expect(Number(accepted)).toBeGreaterThanOrEqual(3 << 20);
    expect(Number(accepted)).toBeLessThanOrEqual(6 << 20);
    const stats = JSON.parse(await cli(fs, ["stats", m.mnt, "--json"])) as { upload: { backlogBytes: number } };
    expect(stats.upload.backlogBytes).toBeGreaterThanOrEqual(3 << 20);
    for (let i = 0; i < 30 && !m.stderr().includes("write-back log full"); i++) await sleep(200);
    expect(m.stderr()).toMatch(
      /write-back log full: \d+ bytes not yet committed \(limit 4194304\); writes that do not fit fail with ENOSPC/,
    );
    // still readable from the cache (from outside the mount: this checks the file, not the root's attrs)
    expect(await sh(`md5sum < ${m.mnt}/d/data.bin`, fs.dir, 60_000)).toBe(sum);
    // Nothing is lost: forced unmount keeps the backlog, the next mount (service back) commits it.
    expect(await m.unmount(true)).toMatch(/[1-9]\d* write-back segment\(s\).*left queued/);
    await m.exited;
    const again = await serveMeta(fs, keyFile);
    meta = again.proc;
    m = await mount(fs, { args: ["--meta", again.address, "--token", token] });
    const got = await sh(
      `stat -c %s bounded.bin && ${PYTHON} -c 'import sys
d = open(sys.argv[1], "rb").read()
print(all(d[i] == 65 + (i >> 20) for i in range(0, len(d), 4096)))' bounded.bin`,
      m.mnt,
    );
    expect(got).toBe(`${accepted}\nTrue\n`);
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = undefined;
  }, 180_000);

  it("--sync-close: close returns with the data committed, and another mount's next open reads it whole", async () => {
    if (m) {
      await m.cleanup();
      m = undefined;
    }
    const keyFile = join(fs.dir, "meta.key");
    killGroup(meta, "SIGKILL");
    const served = await serveMeta(fs, keyFile);
    meta = served.proc;
    const token = (
      await cli(fs, ["meta", "token", "--meta-key-file", keyFile, "--mode", "admin", "--client", "test"])
    ).trim();
    const at = (name: string) => ({ mnt: join(fs.dir, `mnt-${name}`), cacheDir: join(fs.dir, `cache-${name}`) });
    m = await mount(fs, { ...at("w"), args: ["--meta", served.address, "--token", token, "--sync-close"] });
    const writer = m;
    const reader = await mount(fs, { ...at("r"), args: ["--meta", served.address, "--token", token] });
    try {
      for (let i = 0; i < 3; i++) {
        const file = `fresh${i}.bin`;
        // the other mount opens the file the moment the writer's close(2) returns
        const seen = await sh(
          `head -c 3000000 /dev/urandom > ${writer.mnt}/${file} && md5sum < ${reader.mnt}/${file}`,
          fs.dir,
        );
        expect(seen).toBe(await sh(`md5sum < ${file}`, writer.mnt));
        // and nothing of it is left to upload or commit
        const stats = JSON.parse(await cli(fs, ["stats", writer.mnt, "--json"])) as {
          upload: { backlogBytes: number };
        };
        expect(stats.upload.backlogBytes).toBe(0);
      }
    } finally {
      await reader.cleanup();
    }
    expect(await writer.unmount()).toContain("every upload committed");
    await writer.exited;
    m = undefined;
  }, 180_000);
});
