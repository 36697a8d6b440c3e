/**
 * `filespace mount --meta HOST:PORT`: the metadata service runs as its own process
 * (`filespace meta serve`), the mount talks gRPC to it. Data written through the mount is read
 * back; while the service is down, a file read before stays readable from the cache.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
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
os.write(fd, b"queued-while-down\\n" * 1000); os.fsync(fd); os.close(fd)
print("done", flush=True)`,
        join(m.mnt, "queued.txt"),
        go,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const lines = createInterface({ input: writer.stdout! })[Symbol.asyncIterator]();
    expect((await lines.next()).value).toBe("open");
    killGroup(meta, "SIGKILL");
    writeFileSync(go, "");
    expect((await lines.next()).value).toBe("done");
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
});
