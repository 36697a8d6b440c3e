/**
 * `filespace mount <store-url> <dir>`: serve a filespace on a directory. Foreground by default
 * (logs on stderr, Ctrl-C unmounts cleanly after draining uploads); `--daemon` starts the same
 * command detached, waits until the mount answers on its control socket, and returns.
 */
import { spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { controlRequest, findMount, runMount } from "@filespaces/engine/mount";
import { Command } from "commander";
import { z } from "zod";
import { parseFlags, sizeFlag, UsageError } from "../flags.js";
import { readCredential, UNLOCK_SOURCES } from "../passphrase.js";
import { collectOption, parseTuning } from "./mount-tuning.js";
import { hostPortFlag } from "./snapshot.js";

const mountFlags = z.object({
  meta: hostPortFlag.optional(),
  token: z.string().optional(),
  cacheDir: z.string().optional(),
  cacheSize: sizeFlag.refine((n) => n >= 1024 ** 3, "expected at least 1GiB"),
  readOnly: z.boolean().optional(),
  syncClose: z.boolean().optional(),
  snapshot: z.string().optional(),
  metrics: hostPortFlag.optional(),
  daemon: z.boolean().optional(),
  passphraseFile: z.string().optional(),
  secretFile: z.string().optional(),
  binding: z.enum(["auto", "native", "fuse-native"], { error: "expected auto, native or fuse-native" }),
  allowOther: z.boolean().optional(),
  leaseTtl: z.coerce.number().int().min(1000, "expected at least 1000 ms"),
  maxBacklog: sizeFlag.refine((n) => n >= 1024 ** 2, "expected at least 1MiB").optional(),
  backlogWait: z.coerce.number().int().min(0, "expected a number of milliseconds ≥ 0").optional(),
  fetchWorkers: z.coerce
    .number({ error: "expected a whole number of threads" })
    .int("expected a whole number of threads")
    .min(0, "expected 0 (fetch on the main thread) or more")
    .max(64, "expected at most 64")
    .optional(),
  option: z.array(z.string()).default([]),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function daemonize(dir: string, argv: string[], logDir: string): Promise<void> {
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `mount-${dir.replace(/[^A-Za-z0-9]+/g, "_")}.log`);
  const out = openSync(logFile, "a");
  const args = argv.filter((a) => a !== "--daemon");
  const child = spawn(process.execPath, [process.argv[1] ?? "", ...args], {
    detached: true,
    stdio: ["ignore", out, out],
    env: process.env,
  });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  child.unref();
  for (let i = 0; i < 600 && !exited; i++) {
    try {
      const found = findMount(dir);
      if (found.mountpoint === dir) {
        const a = await controlRequest(found.socket, { op: "stats" });
        if (a.ok) {
          process.stdout.write(`mounted on ${dir} (pid ${child.pid}; log ${logFile})\n`);
          return;
        }
      }
    } catch {}
    await sleep(100);
  }
  throw new Error(`the mount did not come up; see ${logFile}`);
}

export function mountCommand(): Command {
  return new Command("mount")
    .description("mount a filespace on a directory (embedded metadata service unless --meta)")
    .argument("<store-url>")
    .argument("<dir>")
    .option("--meta <host:port>", "use a running metadata service (`filespace meta serve`)")
    .option("--token <token>", "access token for --meta (default FILESPACE_META_TOKEN)")
    .option("--cache-dir <dir>", "cache and write-back log directory (default ~/.cache/filespaces/<id>)")
    .option("--cache-size <size>", "disk cache bound (1GiB .. many TiB)", "5GiB")
    .option("--read-only", "mount read-only")
    .option(
      "--sync-close",
      "close() of a written file waits until its data is in the store and committed (strict close-to-open for other clients)",
    )
    .option("--snapshot <name>", "mount a snapshot (read-only)")
    .option("--metrics <host:port>", "serve Prometheus metrics on /metrics")
    .option("--daemon", "detach once the mount is ready")
    .option("--passphrase-file <file>", "read the passphrase from a file (else FILESPACE_PASSPHRASE, else prompt)")
    .option("--secret-file <file>", "unlock with a raw secret instead (or FILESPACE_SECRET)")
    .option("--binding <name>", "FUSE binding: auto, native or fuse-native", "auto")
    .option("--allow-other", "let other users reach the mount")
    .option("--lease-ttl <ms>", "embedded service lease (a crashed mount blocks a restart this long)", "10000")
    .option(
      "--max-backlog <size>",
      "write-back bound: bytes not yet committed before writes fail with ENOSPC (default 8GiB)",
    )
    .option(
      "--backlog-wait <ms>",
      "how long a write waits for room in a full write-back log before failing (default 30000)",
    )
    .option(
      "--fetch-workers <n>",
      "threads that GET and decrypt blocks, off the thread that answers FUSE (default: cores, at most 4; 0 = none)",
    )
    .option(
      "-o, --option <key=value>",
      "a data-path knob, repeatable, e.g. -o prefetchConcurrency=32 (docs/data-path.md lists them)",
      collectOption,
    )
    .action(async (url: string, dirArg: string, raw: Record<string, unknown>) => {
      const flags = parseFlags(mountFlags, raw);
      const tuning = parseTuning(flags.option);
      const dir = resolve(dirArg);
      const token = flags.token ?? process.env.FILESPACE_META_TOKEN;
      if (flags.meta && !token) throw new UsageError("--token: --meta needs an access token (or FILESPACE_META_TOKEN)");
      if (flags.daemon) {
        const argv = process.argv.slice(2);
        const logDir = flags.cacheDir
          ? resolve(flags.cacheDir)
          : join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "filespaces", "logs");
        await daemonize(dir, argv, logDir);
        return;
      }
      const unlock = await readCredential(flags, UNLOCK_SOURCES);
      const log = (line: string) => process.stderr.write(`filespace mount: ${line}\n`);
      const m = await runMount(
        {
          storeUrl: url,
          mountpoint: dir,
          ...(flags.meta ? { meta: flags.meta } : {}),
          ...(token ? { token } : {}),
          ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
          cacheSizeBytes: flags.cacheSize,
          readOnly: flags.readOnly ?? false,
          syncClose: flags.syncClose ?? false,
          ...(flags.snapshot ? { snapshot: flags.snapshot } : {}),
          ...(flags.metrics ? { metrics: flags.metrics } : {}),
          binding: flags.binding,
          allowOther: flags.allowOther ?? false,
          leaseTtlMs: flags.leaseTtl,
          data: {
            ...tuning,
            ...(flags.maxBacklog !== undefined ? { maxBacklogBytes: flags.maxBacklog } : {}),
            ...(flags.backlogWait !== undefined ? { backlogFullWaitMs: flags.backlogWait } : {}),
            ...(flags.fetchWorkers !== undefined ? { fetchWorkers: flags.fetchWorkers } : {}),
          },
        },
        unlock,
        log,
      );
      log(
        `mounted ${url} on ${m.mountpoint} (${m.binding} binding; cache ${m.cacheDir}; control ${m.socket}` +
          `${m.metricsAddress ? `; metrics http://${m.metricsAddress}/metrics` : ""})`,
      );
      const onSignal = () => {
        log("unmounting (waiting for uploads to commit; `filespace unmount --force` leaves them queued)");
        void m.stop();
      };
      process.once("SIGTERM", onSignal);
      process.once("SIGINT", onSignal);
      const pending = await m.done;
      if (pending.pendingSegments > 0)
        log(`unmounted; ${pending.pendingSegments} write-back segment(s), ${pending.pendingBytes} bytes left queued`);
      else log("unmounted; every upload committed");
    });
}
