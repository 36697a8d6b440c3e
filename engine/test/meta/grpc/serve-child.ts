/**
 * A real `filespace meta serve` child for gRPC itests: started in its own process group on a
 * file:// store under `dir` (meta key in `dir/meta.key`), resolved once it says it is serving,
 * killed by group in teardown (`killAll`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../../../cli/bin/filespace.js", import.meta.url));

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

export function killGroup(c: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(-c.pid!, signal);
  } catch {
    // already gone
  }
}

export class MetaServeChildren {
  private readonly live = new Set<ChildProcess>();

  constructor(
    private readonly dir: string,
    private readonly port: number,
  ) {}

  start(cacheDir: string, extra: string[] = []): Promise<{ child: ChildProcess; out: () => string }> {
    const args = [BIN, "meta", "serve", `file://${join(this.dir, "store")}`, "--listen", `127.0.0.1:${this.port}`];
    args.push("--meta-key-file", join(this.dir, "meta.key"), "--cache-dir", cacheDir, "--lease-ttl", "1000", ...extra);
    const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    this.live.add(child);
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`meta serve did not start: ${out}`)), 30_000);
      child.stdout!.on("data", () => {
        if (out.includes("serving filespace metadata")) {
          clearTimeout(timer);
          resolve({ child, out: () => out });
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`meta serve exited with ${code}: ${out}`));
      });
    });
  }

  killAll(): void {
    for (const c of this.live) killGroup(c);
  }
}
