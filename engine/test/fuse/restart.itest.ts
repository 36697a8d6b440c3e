/**
 * Restart survival (native only): while a worker process reads and writes through the mount,
 * the serving process is replaced twice by successors that receive the /dev/fuse descriptor and
 * the file-system state over a unix socket. The worker must see no error, its long-lived open
 * descriptor must keep working, and each predecessor must exit on its own.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { cleanupDir, isMounted, NATIVE_BUILT, PYTHON, type Server, sleep, startServer } from "./helpers.js";

const WORKER = fileURLToPath(new URL("./worker.py", import.meta.url));

describe.skipIf(!NATIVE_BUILT)("restart survival (native binding)", () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers.reverse()) await s.stop();
    if (servers[0]) cleanupDir(servers[0].dir);
  });

  it("keeps a reading and writing process working across two hand-overs", async () => {
    const first = await startServer({ binding: "native", args: [] });
    await first.stop(); // only to get a directory layout; the real first server follows
    const sock = join(first.dir, "handover.sock");
    const a = await startServer({ binding: "native", dir: first.dir, args: ["--handover-socket", sock] });
    servers.push(a);
    const mnt = a.mnt;

    const stopFile = join(first.dir, "stop-worker");
    const worker = spawn(PYTHON, [WORKER, mnt, stopFile], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    worker.stdout.on("data", (d) => {
      out += d;
    });
    worker.stderr.on("data", (d) => {
      out += d;
    });
    const workerDone = new Promise<number | null>((r) => worker.on("exit", (code) => r(code)));

    await sleep(800);
    const aExit = new Promise<number | null>((r) => a.proc.once("exit", (c) => r(c)));
    const b = await startServer({
      binding: "native",
      dir: first.dir,
      mnt,
      args: ["--adopt", sock, "--handover-socket", sock],
    });
    servers.push(b);
    expect(await aExit).toBe(0);

    await sleep(800);
    const bExit = new Promise<number | null>((r) => b.proc.once("exit", (c) => r(c)));
    const c = await startServer({ binding: "native", dir: first.dir, mnt, args: ["--adopt", sock] });
    servers.push(c);
    expect(await bExit).toBe(0);

    await sleep(500); // the worker keeps going on the second successor
    writeFileSync(stopFile, "");
    expect(await workerDone, out).toBe(0);
    expect(Number(out.trim())).toBeGreaterThan(10);
    expect(isMounted(mnt)).toBe(true);
    // The state moved with the mount: the last successor serves what the worker wrote.
    const data = readFileSync(join(mnt, "long-lived"));
    expect(data.length).toBe(64 * 4096);
  });
});
