/**
 * Real processes: a service stand-in (kv-child.mjs, built dist/) on a file:// store is killed
 * with SIGKILL at random moments and restarted, repeatedly; after each restart every
 * acknowledged record is present and the state is exactly a prefix of the history. Every
 * other restart is on an empty local cache directory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const child = fileURLToPath(new URL("./kv-child.mjs", import.meta.url));
const children = new Set<ChildProcess>();
const dirs: string[] = [];
afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(-c.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const recordFor = (v: number) =>
  v % 7 === 0 ? { op: "del", key: `k${v % 13}` } : { op: "set", key: `k${v % 13}`, value: `v${v}` };
function expectedState(version: number): Record<string, string> {
  const m = new Map<string, string>();
  for (let v = 1; v <= version; v++) {
    const r = recordFor(v);
    if (r.op === "set") m.set(r.key, r.value!);
    else m.delete(r.key);
  }
  return Object.fromEntries([...m].sort());
}

describe("SIGKILL and restart", () => {
  it("loses no acknowledged record and half-applies nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fs-meta-sigkill-"));
    dirs.push(dir);
    const key = randomBytes(32).toString("hex");
    let acked = 0;
    let recoveries = 0;
    for (let round = 0; round < 8; round++) {
      const ackedBefore = acked; // acknowledged by the children killed so far
      const cache = join(dir, round % 2 === 0 ? `cache-empty-${round}` : "cache");
      const p = spawn(process.execPath, [child, join(dir, "store"), key, cache], {
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.add(p);
      let buf = "";
      let stderr = "";
      p.stderr!.on("data", (d) => {
        stderr += d;
      });
      const recovered = await new Promise<{ version: number; state: Record<string, string> }>((resolve, reject) => {
        p.stdout!.on("data", (d: Buffer) => {
          buf += d.toString();
          const lines = buf.split("\n");
          buf = lines.pop()!;
          for (const line of lines) {
            const [tag, v, json] = line.split(" ");
            if (tag === "recovered") resolve({ version: Number(v), state: JSON.parse(json!) });
            if (tag === "ack") acked = Math.max(acked, Number(v));
          }
        });
        p.on("exit", (code) => reject(new Error(`child exited ${code}: ${stderr}`)));
      });
      recoveries++;
      expect(recovered.version).toBeGreaterThanOrEqual(ackedBefore);
      expect(recovered.state).toEqual(expectedState(recovered.version));
      // Let it commit for a random while, then kill it mid-flight.
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
      if (p.exitCode !== null) throw new Error(`child exited by itself (${p.exitCode}): ${stderr}`);
      process.kill(-p.pid!, "SIGKILL");
      await new Promise((r) => p.once("close", r));
      // The crashed holder's lease (ttl 300 ms) must expire before the next start.
      await new Promise((r) => setTimeout(r, 350));
    }
    expect(recoveries).toBe(8);
    expect(acked).toBeGreaterThan(200);
  });
});
