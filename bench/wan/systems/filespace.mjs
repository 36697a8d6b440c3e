/**
 * The filespace leg: an encrypted filespace in its own bucket of the same s3rver, the
 * metadata service (`filespace meta serve`, beside the store: it talks to s3rver directly)
 * behind its own delay proxy, and `filespace mount <store-url> <dir> --meta HOST:PORT
 * --cache-dir D` reaching the store through the store's delay proxy — both remote, as for a
 * real user.
 *
 * Seeding is done through an unmeasured setup mount that uses the direct addresses.
 * "In the store" for the write test = `filespace unmount` returned (issue #5: unmount returns
 * only when every upload is committed).
 *
 * The mount command is being built concurrently: available() checks `mount --help` and the
 * harness prints "not available yet" rows when it is missing. Extra mount flags can be given
 * with FILESPACE_BENCH_MOUNT_ARGS (space-separated; `--variants` of bench/wan.mjs sets them per
 * variant instead), `filespace init` flags with
 * FILESPACE_BENCH_INIT_ARGS (e.g. `--chunk-size 8MiB`); Node flags for the measured (WAN) mount
 * process with FILESPACE_BENCH_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
 */
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { isMounted, unmount, waitMounted } from "../../lib/mounts.mjs";
import { freePort, onCleanup, run, runOk, sleep, startService } from "../../lib/procs.mjs";
import { S3_KEY, S3_SECRET } from "../s3.mjs";

const PASSPHRASE = "wan-bench-passphrase";
let mountSeq = 0;

export function filespaceSystem(ctx) {
  const cli = path.join(ctx.repoRoot, "cli/bin/filespace.js");
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: S3_KEY,
    AWS_SECRET_ACCESS_KEY: S3_SECRET,
    AWS_REGION: "us-east-1",
    FILESPACE_PASSPHRASE: PASSPHRASE,
  };
  const storeUrl = (endpoint) => `s3://${ctx.fsBucket}/fs?endpoint=${encodeURIComponent(endpoint)}&pathStyle=true`;
  const fs = (args, opts) => runOk(process.execPath, [cli, ...args], { env, timeoutMs: 120_000, ...opts });
  const extra = (process.env.FILESPACE_BENCH_MOUNT_ARGS ?? "").split(" ").filter(Boolean);
  const nodeArgs = (process.env.FILESPACE_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const initArgs = (process.env.FILESPACE_BENCH_INIT_ARGS ?? "").split(" ").filter(Boolean);

  async function mountWith(store, meta, label, mountArgs = extra) {
    const n = ++mountSeq;
    const dir = path.join(ctx.work, `filespace-mnt-${n}`);
    const cacheDir = path.join(ctx.work, `filespace-cache-${n}`);
    await mkdir(dir, { recursive: true });
    const dropEarly = onCleanup(`unmount ${dir}`, () => unmount(dir, { politeMs: 3000 }));
    const proc = await startService(
      `filespace mount (${label})`,
      process.execPath,
      [
        ...(label === "wan" ? nodeArgs : []),
        cli,
        "mount",
        store,
        dir,
        "--meta",
        meta,
        "--cache-dir",
        cacheDir,
        ...mountArgs,
      ],
      { env, ready: () => true, graceMs: 10_000 },
    );
    await waitMounted(dir, { timeoutMs: 60_000, alive: () => !proc.exited() });
    let stopped = false;
    return {
      dir,
      root: dir,
      proc,
      /** Range GETs the mount has sent so far and its plaintext slab's size (`filespace stats`). */
      async counters() {
        const r = await run(process.execPath, [cli, "stats", dir, "--json"], { env, timeoutMs: 30_000 });
        if (r.code !== 0) return undefined;
        const s = JSON.parse(r.stdout);
        return { requests: s.egress.requests, slabMiB: (s.cache.slabSlots * 64) / 1024 };
      },
      /** `filespace unmount` (waits for uploads), falling back to fusermount3. */
      async stop({ politeMs = 600_000 } = {}) {
        if (stopped) return "unmounted";
        stopped = true;
        let how = "unmounted";
        const r = await run(process.execPath, [cli, "unmount", dir], { env, timeoutMs: politeMs });
        if (r.code !== 0 && (await isMounted(dir))) how = await unmount(dir, { politeMs: 5000 });
        await dropEarly();
        await Promise.race([proc.exitedP, sleep(10_000)]);
        await proc.stop();
        await rm(cacheDir, { recursive: true, force: true });
        return how;
      },
    };
  }

  return {
    name: "filespace",
    settings: "defaults of `filespace mount` (cache dir fresh per mount)",
    async available() {
      const r = await run(process.execPath, [cli, "mount", "--help"], { env, timeoutMs: 30_000 });
      if (r.code !== 0 || !/Usage: filespace mount[\s\S]*--meta/.test(r.stdout + r.stderr))
        return "`filespace mount` not available yet";
      const u = await run(process.execPath, [cli, "unmount", "--help"], { env, timeoutMs: 30_000 });
      if (u.code !== 0) return "`filespace unmount` not available yet";
      return undefined;
    },
    /** init, meta serve (direct store) + its proxy, token; then seed through a setup mount. */
    async prepare(src, s) {
      const direct = storeUrl(ctx.directS3);
      await fs(["init", direct, "--kdf-n", "1024", ...initArgs]);
      const metaKey = (await fs(["key", "meta-key", direct])).stdout.trim();
      env.FILESPACE_META_KEY = metaKey;
      env.FILESPACE_META_TOKEN = (await fs(["meta", "token", "--mode", "rw", "--client", "wan-bench"])).stdout.trim();
      const port = await freePort();
      await startService(
        "filespace meta serve",
        process.execPath,
        [
          cli,
          "meta",
          "serve",
          direct,
          "--listen",
          `127.0.0.1:${port}`,
          "--cache-dir",
          path.join(ctx.work, "meta-cache"),
        ],
        { env, ready: /serving filespace metadata on/, timeoutMs: 60_000, graceMs: 12_000, cpus: ctx.storeCpus },
      );
      const metaProxy = await ctx.startProxy("meta proxy", { host: "127.0.0.1", port });
      this.directMeta = `127.0.0.1:${port}`;
      this.proxiedMeta = `${metaProxy.host}:${metaProxy.port}`;

      // Seeding I/O runs in child processes with timeouts: a wedged mount must not hang us.
      const m = await mountWith(direct, this.directMeta, "setup");
      const sh = (cmd, ...args) => runOk(cmd, args, { timeoutMs: 1_800_000 });
      try {
        await sh("cp", src.big, path.join(m.dir, "big.bin"));
        await sh("cp", src.head, path.join(m.dir, "huge.bin"));
        await sh("truncate", "-s", String(s.huge), path.join(m.dir, "huge.bin")); // the rest is a hole
        await sh(
          "cp",
          "-r",
          path.dirname(src.frames[0] ?? path.join(src.dir, "frames", "x")),
          path.join(m.dir, "frames"),
        );
        await sh("mkdir", path.join(m.dir, "write"));
        if (ctx.wanted("ls"))
          await sh(
            process.execPath,
            path.join(ctx.benchDir, "io/create.mjs"),
            path.join(m.dir, "ls"),
            String(s.entries),
            String(s.small),
          );
      } finally {
        await m.stop();
      }
    },
    /** The measured mount; `mountArgs` replace FILESPACE_BENCH_MOUNT_ARGS (bench --variants). */
    mount(mountArgs = extra) {
      return mountWith(storeUrl(ctx.proxiedS3), this.proxiedMeta, "wan", mountArgs);
    },
    /** Durable in the store = unmount returned (it waits for every upload to commit). */
    async waitInStore(mount, _key, _size, timeoutMs) {
      const how = await mount.stop({ politeMs: timeoutMs });
      return how === "unmounted";
    },
  };
}
