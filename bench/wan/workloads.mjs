/**
 * The workloads of issue #5's WAN benchmark, run against one mounted system. All I/O happens
 * in separate processes (read.mjs, create.mjs, dd, fio, ls) so a hung mount only costs that
 * process (killed at its timeout), never the harness.
 *
 * Each cold workload gets a fresh mount with an empty cache dir ("session"); the warm
 * re-read follows the cold read in the same session, after dropping the kernel page cache so
 * it measures the mount's own cache rather than RAM.
 */
import path from "node:path";
import { dropPageCache } from "../lib/mounts.mjs";
import { run } from "../lib/procs.mjs";
import { frameName } from "./dataset.mjs";

const MiB = 1024 * 1024;

/** Metadata of every workload: table label, unit, which way is better. */
export function workloadInfo(s) {
  const size = (b) => (b >= 1024 * MiB ? `${b / 1024 / MiB} GiB` : `${b / MiB} MiB`);
  return [
    { id: "seq_cold", label: `cold sequential read, ${size(s.big)}`, unit: "MiB/s", better: "higher" },
    { id: "ttfb", label: `first byte of a cold ${size(s.huge)} file`, unit: "ms", better: "lower" },
    { id: "rand_cold", label: "cold random 64 KiB reads (1 at a time)", unit: "IOPS", better: "higher" },
    { id: "seq_warm", label: `warm sequential re-read, ${size(s.big)}`, unit: "MiB/s", better: "higher" },
    {
      id: "write_app",
      label: `sequential write ${size(s.big)}, until dd+fsync returns`,
      unit: "MiB/s",
      better: "higher",
    },
    {
      id: "write_store",
      label: `sequential write ${size(s.big)}, until in the store`,
      unit: "MiB/s",
      better: "higher",
    },
    { id: "ls", label: `ls -l of a cold ${s.entries.toLocaleString("en-US")}-entry dir`, unit: "ms", better: "lower" },
    {
      id: "create",
      label: `create ${s.creates.toLocaleString("en-US")} small files (4 KiB)`,
      unit: "files/s",
      better: "higher",
    },
    {
      id: "frames",
      label: `${s.frames} frames × 8 MiB, after the first ${firstFrames(s)}`,
      unit: "MiB/s",
      better: "higher",
    },
    { id: "frames_all", label: `${s.frames} frames × 8 MiB, all`, unit: "MiB/s", better: "higher" },
  ];
}

const firstFrames = (s) => Math.min(5, Math.max(1, Math.floor(s.frames / 10)));

function fail(r, what) {
  if (r.timedOut) return { error: `timeout after ${Math.round(r.ms / 1000)} s (${what})` };
  return { error: `${what} failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" ").slice(0, 200)}` };
}

/** Timed sequential reads of `files` (bench/wan/io/read.mjs); `{ files }` or `{ fail }`. */
async function readFiles(ctx, files, { bytes, timeoutMs }) {
  const args = [path.join(ctx.benchDir, "io/read.mjs"), ...(bytes ? ["--bytes", String(bytes)] : []), ...files];
  const r = await run(process.execPath, args, { timeoutMs });
  if (r.code !== 0) return { fail: fail(r, "read") };
  return { files: JSON.parse(r.stdout).files };
}

/**
 * Hashes `files` through the mount in an untimed pass (after the clock and the egress meter
 * stopped) and compares with the sources; returns an error text or undefined.
 */
async function verify(ctx, files, names, timeoutMs) {
  const r = await run(process.execPath, [path.join(ctx.benchDir, "io/read.mjs"), "--hash", ...files], { timeoutMs });
  if (r.code !== 0) return `verification read failed: ${fail(r, "read").error}`;
  const got = JSON.parse(r.stdout).files;
  for (let i = 0; i < files.length; i++) {
    const want = ctx.src.hashes[names[i]];
    if (want && got[i].sha256 !== want) return `checksum mismatch on ${names[i]}`;
  }
  return undefined;
}

/**
 * The sessions: `ids` it measures, run(mount, sys) → { [id]: result }. The harness meters the
 * bytes through the store's proxy over the whole session and records them on `meterId` (default
 * the first id) unless the session recorded `egress` itself.
 */
export function sessions(ctx, s) {
  const t = ctx.timeoutMs;
  const mib = (bytes, ms) => bytes / MiB / (ms / 1000);
  return [
    {
      ids: ["ttfb"],
      async run(mount) {
        const r = await readFiles(ctx, [path.join(mount.root, "huge.bin")], { bytes: 1, timeoutMs: t });
        if (r.fail) return { ttfb: r.fail };
        return { ttfb: { value: r.files[0].ms, rts: r.files[0].ms / ctx.rttMs } };
      },
    },
    {
      ids: ["seq_cold", "seq_warm"],
      async run(mount) {
        const file = path.join(mount.root, "big.bin");
        let meter = await ctx.meter(mount);
        const cold = await readFiles(ctx, [file], { timeoutMs: t });
        if (cold.fail) return { seq_cold: cold.fail, seq_warm: { error: "skipped (cold read failed)" } };
        const out = {
          seq_cold: {
            value: mib(cold.files[0].bytes, cold.files[0].ms),
            note: `open ${cold.files[0].openMs.toFixed(0)} ms, first byte after ${cold.files[0].firstByteMs.toFixed(0)} ms`,
            egress: await meter(),
          },
        };
        out.seq_cold.error = await verify(ctx, [file], ["big.bin"], t);
        await dropPageCache();
        meter = await ctx.meter(mount);
        const warm = await readFiles(ctx, [file], { timeoutMs: t });
        out.seq_warm = warm.fail ?? {
          value: mib(warm.files[0].bytes, warm.files[0].ms),
          egress: await meter(),
        };
        if (!warm.fail) out.seq_warm.error = await verify(ctx, [file], ["big.bin"], t);
        return out;
      },
    },
    {
      ids: ["rand_cold"],
      async run(mount) {
        const args = [
          "--name=randread",
          `--filename=${path.join(mount.root, "big.bin")}`,
          "--readonly",
          "--rw=randread",
          "--bs=64k",
          "--ioengine=psync",
          "--iodepth=1",
          "--numjobs=1",
          `--size=${s.big}`,
          `--runtime=${ctx.randSeconds}`,
          "--time_based",
          "--output-format=json",
        ];
        const r = await run("fio", args, { timeoutMs: ctx.randSeconds * 1000 + t });
        if (r.code !== 0) return { rand_cold: fail(r, "fio") };
        const read = JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))).jobs[0].read;
        return { rand_cold: { value: read.iops, latencyMs: read.lat_ns.mean / 1e6 } };
      },
    },
    {
      ids: ["frames", "frames_all"],
      async run(mount) {
        const names = Array.from({ length: s.frames }, (_, i) => `frames/${frameName(i)}`);
        const files = names.map((n) => path.join(mount.root, n));
        const meter = await ctx.meter(mount);
        const r = await readFiles(ctx, files, { timeoutMs: t });
        if (r.fail) return { frames: r.fail, frames_all: r.fail };
        const egress = await meter();
        const error = await verify(ctx, files, names, t);
        const sum = (fs) => fs.reduce((a, f) => ({ bytes: a.bytes + f.bytes, ms: a.ms + f.ms }), { bytes: 0, ms: 0 });
        const all = sum(r.files);
        const steady = sum(r.files.slice(firstFrames(s)));
        // Where a frame's time goes: open + first read (latency) vs the rest (bandwidth).
        const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        const later = r.files.slice(firstFrames(s));
        const ms = (key) => median(later.map((f) => f[key])).toFixed(0);
        const note = `median per frame ${ms("ms")} ms: open ${ms("openMs")} ms, open + first read ${ms("firstByteMs")} ms`;
        return {
          frames: { value: mib(steady.bytes, steady.ms), error, note, egress },
          frames_all: { value: mib(all.bytes, all.ms), error },
        };
      },
    },
    {
      ids: ["ls"],
      async run(mount) {
        const r = await run("ls", ["-l", "--color=never", path.join(mount.root, "ls")], { timeoutMs: t });
        if (r.code !== 0) return { ls: fail(r, "ls -l") };
        const entries = r.stdout.split("\n").filter((l) => l && !l.startsWith("total")).length;
        const error = entries === s.entries ? undefined : `listed ${entries} entries, expected ${s.entries}`;
        return { ls: { value: r.ms, rts: r.ms / ctx.rttMs, error } };
      },
    },
    {
      ids: ["write_app", "write_store"],
      meterId: "write_store",
      async run(mount, sys) {
        const key = `write/${sys.name}-${Date.now()}.bin`;
        const start = performance.now();
        const r = await run(
          "dd",
          [`if=${ctx.src.big}`, `of=${path.join(mount.root, key)}`, "bs=1M", "conv=fsync", "status=none"],
          {
            timeoutMs: t,
          },
        );
        if (r.code !== 0) return { write_app: fail(r, "dd"), write_store: { error: "skipped" } };
        const out = { write_app: { value: mib(s.big, r.ms) } };
        const ok = await sys.waitInStore(mount, key, s.big, t);
        out.write_store = ok
          ? { value: mib(s.big, performance.now() - start) }
          : { error: `not in the store after ${t / 1000} s` };
        return out;
      },
    },
    {
      ids: ["create"],
      async run(mount, sys) {
        const dir = path.join(mount.root, `create-${sys.name}-${Date.now()}`);
        const r = await run(
          process.execPath,
          [path.join(ctx.benchDir, "io/create.mjs"), dir, String(s.creates), String(s.small)],
          {
            timeoutMs: ctx.createTimeoutMs,
          },
        );
        const done = /done (\d+) ([\d.]+)/.exec(r.stdout);
        if (done) return { create: { value: Number(done[1]) / (Number(done[2]) / 1000) } };
        const counts = [...r.stdout.matchAll(/created (\d+)/g)];
        const n = counts.length ? Number(counts.at(-1)[1]) : 0;
        if (r.timedOut && n > 0) {
          return {
            create: { value: n / (r.ms / 1000), partial: `${n} files in ${Math.round(r.ms / 1000)} s (timeout)` },
          };
        }
        return { create: fail(r, "create") };
      },
    },
  ];
}
