/**
 * Starts a real service process in its own process group, waits until it is ready and
 * stops the whole group in teardown (an orphan holding stdout would keep CI open).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface ManagedProcess {
  readonly child: ChildProcess;
  /** Last few KiB of stdout+stderr, for failure messages. */
  output(): string;
  /** Sends `signal` to the group, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(): Promise<void>;
}

export interface StartOptions {
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Polled every 100 ms until true. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  stopSignal?: NodeJS.Signals;
  graceMs?: number;
}

export async function startProcess(options: StartOptions): Promise<ManagedProcess> {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8192);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  let stopping: Promise<void> | undefined;
  const managed: ManagedProcess = {
    child,
    output: () => tail,
    stop: () => {
      stopping ??= (async () => {
        signalGroup(child, options.stopSignal ?? "SIGTERM");
        const killer = setTimeout(() => signalGroup(child, "SIGKILL"), options.graceMs ?? 3000);
        await exited;
        clearTimeout(killer);
        signalGroup(child, "SIGKILL"); // stragglers in the group
      })();
      return stopping;
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.command} exited before it was ready:\n${tail}`);
    }
    if (await options.ready().catch(() => false)) return managed;
    if (Date.now() > deadline) {
      await managed.stop();
      throw new Error(`${options.command} not ready after ${options.readyTimeoutMs ?? 30_000} ms:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // group already gone
  }
}
