/**
 * fcntl byte-range locks and flock from two processes on a real mount: they must reach the
 * engine's lock handler (a lock log the server writes plays the test lock service), conflict
 * across processes, and blocking waits must end when a signal interrupts them (the kernel sends
 * INTERRUPT, the VFS wait aborts, the caller's call returns). fuse-native has no lock ops: there
 * the kernel keeps locks local and the engine sees none, which the last test pins down.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BINDINGS, cleanupDir, PYTHON, type Server, startServer } from "./helpers.js";

const LOCKER = fileURLToPath(new URL("./locker.py", import.meta.url));

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, [LOCKER, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
    });
    p.on("error", reject);
    p.on("exit", () => resolve(out.trim()));
  });
}

/** Start a holder; resolves once it holds the lock. Release = end its stdin. */
function hold(args: string[]): Promise<{ proc: ChildProcess; release(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(PYTHON, [LOCKER, ...args], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    proc.stdout?.on("data", (d) => {
      out += d;
      if (out.includes("locked")) {
        if (!out.startsWith("ok")) reject(new Error(`holder failed: ${out}`));
        resolve({
          proc,
          release: () =>
            new Promise<void>((r) => {
              proc.once("exit", () => r());
              proc.stdin?.end();
            }),
        });
      }
    });
    proc.on("exit", () => reject(new Error(`holder exited: ${out}`)));
  });
}

interface LogRec {
  op: string;
  phase: string;
  pid: number;
  wait?: boolean;
  error?: string;
}
const readLog = (file: string): LogRec[] =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogRec)
    : [];

describe.each(BINDINGS)("locks on %s binding", (binding) => {
  let srv: Server;
  let file: string;
  let log: string;
  const holders: Array<{ proc: ChildProcess; release(): Promise<void> }> = [];
  const native = binding === "native";

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "fs-locks-"));
    log = join(dir, "locks.jsonl");
    srv = await startServer({ binding, dir, args: ["--lock-log", log] });
    file = join(srv.mnt, "locked");
    writeFileSync(file, "x".repeat(1000));
  });
  afterEach(async () => {
    for (const h of holders.splice(0)) await h.release();
  });
  afterAll(async () => {
    await srv?.stop();
    if (srv) cleanupDir(srv.dir);
  });

  it("conflicts fcntl locks across processes by range", async () => {
    const holder = await hold(["hold-fcntl", file, "0", "100", "w"]);
    holders.push(holder);
    expect(await run(["try-fcntl", file, "50", "10", "w"])).toBe("EAGAIN");
    expect(await run(["try-fcntl", file, "50", "10", "r"])).toBe("EAGAIN");
    expect(await run(["try-fcntl", file, "200", "10", "w"])).toBe("ok");
    if (native) {
      const [type, start, len, pid] = (await run(["getlk", file, "10", "5", "r"])).split(" ");
      expect([type, start, len]).toEqual(["w", "0", "100"]);
      expect(Number(pid)).toBe(holder.proc.pid);
    }
  });

  it("shares read locks and grants a waiting writer after release", async () => {
    const reader = await hold(["hold-fcntl", file, "0", "0", "r"]);
    expect(await run(["try-fcntl", file, "0", "0", "r"])).toBe("ok");
    const waiting = run(["wait-fcntl", file, "0", "10", "w", "10"]);
    await new Promise((r) => setTimeout(r, 300));
    await reader.release();
    expect(await waiting).toBe("ok");
  });

  it("interrupts a blocked fcntl wait with a signal", async () => {
    holders.push(await hold(["hold-fcntl", file, "0", "0", "w"]));
    const t0 = Date.now();
    expect(await run(["wait-fcntl", file, "0", "10", "w", "0.5"])).toBe("interrupted");
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("conflicts flock locks and interrupts a blocked flock", async () => {
    const h = await hold(["hold-flock", file, "w"]);
    expect(await run(["try-flock", file, "w"])).toBe("EAGAIN");
    expect(await run(["try-flock", file, "r"])).toBe("EAGAIN");
    expect(await run(["wait-flock", file, "w", "0.5"])).toBe("interrupted");
    const waiting = run(["wait-flock", file, "r", "10"]);
    await new Promise((r) => setTimeout(r, 300));
    await h.release();
    expect(await waiting).toBe("ok");
  });

  it(
    native
      ? "routes every lock call to the engine's lock handler"
      : "keeps locks in the kernel (fuse-native has no lock ops)",
    () => {
      const recs = readLog(log);
      if (!native) {
        expect(recs).toEqual([]);
        return;
      }
      const pids = new Set(recs.map((r) => r.pid));
      expect(pids.size).toBeGreaterThanOrEqual(2);
      expect(recs.some((r) => r.op === "getlk")).toBe(true);
      expect(recs.some((r) => r.op === "flock" && r.phase === "done" && r.error === "EWOULDBLOCK")).toBe(true);
      expect(recs.some((r) => r.op === "setlk" && r.phase === "done" && r.error === "EAGAIN")).toBe(true);
      // The interrupted blocking waits ended in the engine with EINTR.
      expect(recs.filter((r) => r.phase === "done" && r.error === "EINTR").length).toBeGreaterThanOrEqual(2);
    },
  );
});
