#!/usr/bin/env node
/**
 * WAN benchmark (issue #5): the same workloads on the same store, 50 ms away, through
 * filespace, s3fs-fuse and rclone mount, next to the raw limit (a plain parallel range-GET
 * client). Not part of `npm test`; run `npm run bench:wan [-- --quick]`.
 *
 *   node bench/wan.mjs [--quick] [--systems raw,filespace,s3fs,rclone] [--delay-ms 25]
 *                      [--rate-mibps N] [--timeout S] [--out FILE.json] [--svg FILE.svg]
 *                      [--workloads seq_cold,ttfb,rand_cold,frames,...]   (a subset; default all)
 *                      [--isolate-store]   (store side and clients on separate CPUs; see isolateStore)
 *                      [--variants "a=;b=-o prefetchMaxWindowBytes=256MiB"] [--rounds 5]
 *   --variants: filespace mounted with each set of mount flags, as columns filespace:a,
 *   filespace:b (one prepared filespace). --rounds: every filespace session that many times,
 *   variants interleaved round by round (machines drift: A A A B B B would measure the drift);
 *   each cell is the median, with every round's value in the JSON (`rounds`). Settles A/B
 *   questions that a single run on a noisy machine cannot.
 *   node bench/wan.mjs --report FILE.json     re-print tables, rewrite .svg/.md from a run
 *
 * Topology: s3rver ← delay proxy ← (raw client | s3fs | rclone | filespace mount);
 *           meta serve (talks to s3rver directly) ← delay proxy ← filespace mount.
 * Everything runs on loopback in a temp dir, in its own process group, and is torn down on
 * exit, error and SIGINT.
 */
import { spawnSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cleanupAll, cpuSecondsOf, runOk, tempDir, trapSignals } from "./lib/procs.mjs";
import { meterOf, startProxyProcess } from "./lib/proxy-process.mjs";
import { makeSources, seedPlainBucket, sizes } from "./wan/dataset.mjs";
import { markdown, markdownEgress, printEgress, printTable, svg } from "./wan/report.mjs";
import { s3Client, startS3rver } from "./wan/s3.mjs";
import { filespaceSystem } from "./wan/systems/filespace.mjs";
import { rcloneSystem } from "./wan/systems/rclone.mjs";
import { s3fsSystem } from "./wan/systems/s3fs.mjs";
import { sessions, workloadInfo } from "./wan/workloads.mjs";

const benchDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "wan");
const repoRoot = path.resolve(benchDir, "../..");
const ALL = ["raw", "filespace", "s3fs", "rclone"];

function parseArgs(argv) {
  const o = {
    quick: false,
    systems: ALL,
    delayMs: 25,
    rateMiBps: undefined,
    timeoutS: undefined,
    workloads: undefined,
    isolateStore: false,
    variants: undefined,
    rounds: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a}: expected a value`);
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--systems") o.systems = val().split(",");
    else if (a === "--delay-ms") o.delayMs = Number(val());
    else if (a === "--rate-mibps") o.rateMiBps = Number(val());
    else if (a === "--timeout") o.timeoutS = Number(val());
    else if (a === "--out") o.out = val();
    else if (a === "--svg") o.svg = val();
    else if (a === "--workloads") o.workloads = val().split(",");
    else if (a === "--isolate-store") o.isolateStore = true;
    else if (a === "--variants") o.variants = parseVariants(val());
    else if (a === "--rounds") o.rounds = Number(val());
    else throw new Error(`unknown flag ${a} (see the header of bench/wan.mjs)`);
  }
  for (const s of o.systems)
    if (!ALL.includes(s)) throw new Error(`--systems: expected some of ${ALL.join(",")}, got ${s}`);
  if (!(o.delayMs >= 0)) throw new Error("--delay-ms: expected a number ≥ 0");
  if (!(Number.isInteger(o.rounds) && o.rounds >= 1)) throw new Error("--rounds: expected a whole number ≥ 1");
  if ((o.variants || o.rounds > 1) && o.systems.some((x) => x !== "raw" && x !== "filespace"))
    throw new Error("--variants and --rounds repeat filespace mounts: --systems may hold only raw and filespace");
  if (o.rateMiBps !== undefined && !(o.rateMiBps > 0)) throw new Error("--rate-mibps: expected a positive number");
  return o;
}

/** `"a=;b=-o k=v -o k2=v2"` → [{ name: "a", args: [] }, { name: "b", args: ["-o", "k=v", ...] }]. */
function parseVariants(text) {
  const variants = text.split(";").map((part) => {
    const eq = part.indexOf("=");
    const name = eq < 0 ? "" : part.slice(0, eq).trim();
    if (!/^[A-Za-z0-9_.-]+$/.test(name))
      throw new Error(`--variants: expected NAME=MOUNT FLAGS, got ${JSON.stringify(part)}`);
    return {
      name,
      args: part
        .slice(eq + 1)
        .split(" ")
        .filter(Boolean),
    };
  });
  if (new Set(variants.map((v) => v.name)).size !== variants.length) throw new Error("--variants: names must differ");
  return variants;
}

/** Per workload, the median round (by value) with every round's value; errors if a round failed. */
function medianOfRounds(rounds) {
  const out = {};
  for (const id of Object.keys(rounds[0] ?? {})) {
    const rs = rounds.map((r) => r[id]).filter(Boolean);
    if (rs.length === 0) continue;
    const ok = rs.filter((r) => r.value !== undefined && !r.error);
    if (ok.length < rs.length) {
      out[id] = rs.find((r) => r.error) ?? rs[0];
      continue;
    }
    const sorted = [...ok].sort((a, b) => a.value - b.value);
    out[id] = { ...sorted[Math.floor((sorted.length - 1) / 2)], rounds: ok.map((r) => r.value) };
  }
  return out;
}

const log = (line) => process.stderr.write(`[wan ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** Median time of small HTTP GETs on one keep-alive connection. */
async function medianGetMs(port, urlPath, n = 15) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times = [];
  for (let i = 0; i < n + 2; i++) {
    const t = performance.now();
    await new Promise((resolve, reject) =>
      http
        .get({ host: "127.0.0.1", port, path: urlPath, agent }, (res) => res.resume().on("end", resolve))
        .on("error", reject),
    );
    if (i >= 2) times.push(performance.now() - t);
  }
  agent.destroy();
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

async function rawRuns(ctx, s, results) {
  const client = (args, timeoutMs = ctx.timeoutMs) =>
    runOk(
      process.execPath,
      ["--no-warnings", path.join(benchDir, "raw-client.mjs"), args[0], ctx.proxiedS3, ...args.slice(1)],
      {
        timeoutMs,
      },
    ).then((r) => JSON.parse(r.stdout));
  const guard = async (id, fn) => {
    if (!ctx.wanted(id)) return;
    try {
      const meter = await ctx.meter();
      results[id].raw = await fn();
      results[id].raw.egress = await meter();
    } catch (err) {
      results[id].raw = { error: err.message.slice(-300) };
    }
    log(`raw ${id}: ${JSON.stringify(results[id].raw)}`);
  };
  // The limit: 16 × 4 MiB ranges in flight, best of two passes each with the AWS SDK and with
  // curl (a Node client can be CPU-bound on a busy 2-core machine before the store is). The
  // store's page cache is warm for everyone: all read the same bytes from the same s3rver files.
  await guard("seq_cold", async () => {
    const bytes = String(Math.max(s.big, 256 * 1024 * 1024)); // steady state even for --quick
    const range = String(4 * 1024 * 1024);
    const pass = async (mode) =>
      (await client([mode, "plain", "big.bin", String(s.big), "--parallel", "16", "--range", range, "--bytes", bytes]))
        .mibps;
    const sdk = Math.max(await pass("seq"), await pass("seq"));
    const curl = Math.max(await pass("seqcurl"), await pass("seqcurl"));
    return { value: Math.max(sdk, curl), note: `AWS SDK ${sdk.toFixed(1)} MiB/s, curl ${curl.toFixed(1)} MiB/s` };
  });
  await guard("ttfb", async () => {
    const ms = (await client(["ttfb", "plain", "huge.bin"])).ms;
    return { value: ms, rts: ms / ctx.rttMs };
  });
  await guard("rand_cold", async () => {
    const r = await client(["random", "plain", "big.bin", String(s.big), "--seconds", String(ctx.randSeconds)]);
    return { value: r.iops, latencyMs: r.latencyMs };
  });
  await guard("ls", async () => {
    const r = await client(["list", "plain", "ls/"]);
    return { value: r.ms, rts: r.ms / ctx.rttMs, note: `${r.pages} LIST pages, no HEADs` };
  });
  // The store's write limit: the better of one multipart upload (8 × 8 MiB parts in flight) and
  // 8 parallel single PUTs of 4 MiB (what chunked writers do; s3rver's multipart completion
  // re-reads and re-writes the whole object, so multipart alone understates the store).
  await guard("write_store", async () => {
    const multipart = (await client(["put", "plain", "write/raw.bin", String(s.big)])).mibps;
    const objects = (await client(["putobjects", "plain", "write/raw-pieces", String(s.big)])).mibps;
    return {
      value: Math.max(multipart, objects),
      note: `multipart ${multipart.toFixed(1)} MiB/s, 4 MiB objects ${objects.toFixed(1)} MiB/s`,
    };
  });
}

async function runSystem(ctx, sys, s, results) {
  for (const session of sessions(ctx, s)) {
    if (!session.ids.some((id) => ctx.wanted(id))) continue;
    let mount;
    try {
      mount = await sys.mount();
      const meter = await ctx.meter(mount);
      const out = await session.run(mount, sys);
      const egress = await meter();
      const metered = out[session.meterId ?? session.ids[0]];
      if (metered && metered.value !== undefined) metered.egress ??= egress;
      for (const [id, r] of Object.entries(out)) {
        results[id][sys.name] = r;
        log(`${sys.name} ${id}: ${JSON.stringify(r)}`);
      }
    } catch (err) {
      log(`${sys.name} ${session.ids.join("+")}: ${err.message}`);
      for (const id of session.ids) results[id][sys.name] ??= { error: err.message.split("\n")[0].slice(0, 200) };
    } finally {
      if (mount) await mount.stop().catch((err) => log(`${sys.name} unmount: ${err.message}`));
    }
  }
}

/**
 * --variants / --rounds: one prepared filespace, mounted with each variant's flags in turn, every
 * round; returns the column names (raw first when it ran).
 */
async function runRounds(ctx, s, results, opts) {
  const sys = filespaceSystem(ctx);
  const unavailable = await sys.available();
  if (unavailable) throw new Error(`filespace: ${unavailable}`);
  log("filespace: preparing");
  await sys.prepare(ctx.src, s);
  const variants = opts.variants ?? [{ name: "", args: undefined }];
  const column = (v) => (v.name ? `filespace:${v.name}` : "filespace");
  const perRound = new Map(variants.map((v) => [v.name, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    for (const v of variants) {
      log(`round ${round}/${opts.rounds}: ${column(v)} ${v.args?.join(" ") ?? ""}`);
      const one = Object.fromEntries(Object.keys(results).map((id) => [id, {}]));
      const named = { ...sys, name: column(v), mount: () => sys.mount(v.args) };
      await runSystem(ctx, named, s, one);
      perRound.get(v.name).push(Object.fromEntries(Object.entries(one).map(([id, r]) => [id, r[column(v)]])));
    }
  }
  for (const v of variants)
    for (const [id, r] of Object.entries(medianOfRounds(perRound.get(v.name)))) if (r) results[id][column(v)] = r;
  return [...(opts.systems.includes("raw") ? ["raw"] : []), ...variants.map(column)];
}

/**
 * --isolate-store: the store side (s3rver, the delay proxies, `meta serve`) runs on the first half
 * of the CPUs; this harness and everything it measures (mounts, readers, the raw client) on the
 * rest. For a real user the store and the WAN are remote and take no CPU time from the client;
 * on a small machine sharing them turns every workload into a CPU contest with s3rver.
 */
function isolateStore() {
  const n = availableParallelism();
  if (n < 2) throw new Error("--isolate-store: needs at least 2 CPUs");
  const half = Math.floor(n / 2);
  const list = (from, to) => (from === to - 1 ? `${from}` : `${from}-${to - 1}`);
  const cpus = { store: list(0, half), clients: list(half, n) };
  const r = spawnSync("taskset", ["-a", "-p", "-c", cpus.clients, String(process.pid)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`--isolate-store: taskset failed: ${r.stderr || r.error}`);
  return cpus;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  trapSignals();
  if (opts.isolateStore) {
    opts.cpus = isolateStore().store; // startProxy passes opts on to every proxy
    log(`store side on CPUs ${opts.cpus}, clients on the others`);
  }
  const s = sizes(opts.quick);
  const infos = workloadInfo(s);
  for (const w of opts.workloads ?? [])
    if (!infos.some((i) => i.id === w))
      throw new Error(`--workloads: expected some of ${infos.map((i) => i.id).join(",")}, got ${w}`);
  const results = Object.fromEntries(infos.map((i) => [i.id, {}]));
  const work = await tempDir("filespaces-wan-");
  const s3 = await startS3rver(path.join(work, "s3"), ["plain", "fsbench"], { cpus: opts.cpus });
  const ctx = {
    work,
    benchDir,
    repoRoot,
    plainBucket: "plain",
    fsBucket: "fsbench",
    directS3: s3.endpoint,
    directClient: s3Client(s3.endpoint),
    timeoutMs: (opts.timeoutS ?? (opts.quick ? 90 : 600)) * 1000,
    createTimeoutMs: (opts.quick ? 30 : 180) * 1000,
    randSeconds: opts.quick ? 5 : 20,
    startProxy: (label, target) => startProxyProcess(label, target, opts),
    /** CPUs of the store side (--isolate-store), for services a system starts beside the store. */
    storeCpus: opts.cpus,
    /**
     * Starts metering the store's proxy; the result gives MiB up/down since, and the CPU seconds
     * the store side (s3rver + its proxy) spent meanwhile: the same bytes can cost the store very
     * different amounts of CPU depending on how a client asks for them and what shares its cores.
     * With a `mount`, also the CPU seconds of its process (`mountCpuS`), and when it can tell,
     * the GETs it sent (`requests`) and its plaintext slab's size at the end (`slabMiB`).
     */
    meter: async (mount) => {
      const egress = await meterOf(ctx.s3proxy);
      const storePids = [s3.pid, ctx.s3proxy.pid];
      const mountPids = mount?.proc ? [mount.proc.child.pid] : [];
      const [store0, mount0] = [await cpuSecondsOf(storePids), await cpuSecondsOf(mountPids)];
      const counters0 = await mount?.counters?.();
      return async () => {
        const counters = counters0 && (await mount.counters());
        return {
          ...(await egress()),
          ...(counters ? { requests: counters.requests - counters0.requests, slabMiB: counters.slabMiB } : {}),
          storeCpuS: (await cpuSecondsOf(storePids)) - store0,
          // a mount stopped inside the measurement (write until in the store) took its count along
          ...(mount?.proc && !mount.proc.exited() ? { mountCpuS: (await cpuSecondsOf(mountPids)) - mount0 } : {}),
        };
      };
    },
    /** --workloads: a session runs when it measures at least one wanted workload. */
    wanted: (id) => !opts.workloads || opts.workloads.includes(id),
  };
  const s3proxy = await ctx.startProxy("s3 proxy", { host: "127.0.0.1", port: s3.port });
  ctx.s3proxy = s3proxy;
  ctx.proxiedS3 = `http://127.0.0.1:${s3proxy.port}`;
  const direct = await medianGetMs(s3.port, "/plain?max-keys=0");
  const proxied = await medianGetMs(s3proxy.port, "/plain?max-keys=0");
  ctx.rttMs = Math.max(1, proxied - direct);
  log(
    `proxy adds ${ctx.rttMs.toFixed(1)} ms RTT (target ${2 * opts.delayMs} ms; store request ${direct.toFixed(1)} ms direct)`,
  );

  log(`generating sources (${opts.quick ? "quick" : "full"} sizes)`);
  ctx.src = await makeSources(path.join(work, "src"), s);
  const peers = opts.systems.filter((x) => x !== "filespace");
  if (peers.length) {
    log("seeding the plain bucket for raw/s3fs/rclone");
    await seedPlainBucket(ctx.directClient, s3.dir, "plain", ctx.src, s);
  }
  if (opts.systems.includes("raw")) await rawRuns(ctx, s, results);
  const run = {
    mode: opts.quick ? "quick" : "full",
    sizes: s,
    rttMs: ctx.rttMs,
    delayMs: opts.delayMs,
    rateMiBps: opts.rateMiBps,
    storeCpus: opts.cpus,
    stamp: new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19),
    systems: opts.systems,
    ...(opts.rounds > 1 ? { rounds: opts.rounds } : {}),
    results,
  };

  const makers = { filespace: filespaceSystem, s3fs: s3fsSystem, rclone: rcloneSystem };
  if (opts.variants || opts.rounds > 1) {
    run.systems = await runRounds(ctx, s, results, opts);
    return finish(run, opts, s3);
  }
  for (const name of opts.systems.filter((x) => x !== "raw")) {
    const sys = makers[name](ctx);
    const unavailable = await sys.available();
    if (unavailable) {
      log(`${name}: ${unavailable}`);
      for (const i of infos) results[i.id][name] = { error: unavailable };
      continue;
    }
    try {
      log(`${name}: preparing`);
      await sys.prepare(ctx.src, s);
    } catch (err) {
      log(`${name}: prepare failed: ${err.message}`);
      for (const i of infos)
        results[i.id][name] = { error: `prepare failed: ${err.message.split("\n")[0].slice(0, 160)}` };
      continue;
    }
    log(`${name}: running workloads`);
    await runSystem(ctx, sys, s, results);
  }

  return finish(run, opts, s3);
}

/** Writes the JSON of a run, the store's GC log when asked, and the report. */
async function finish(run, opts, s3) {
  const outDir = path.join(repoRoot, "bench/out");
  await mkdir(outDir, { recursive: true });
  const jsonFile = opts.out ?? path.join(outDir, `wan-${run.mode}-${run.stamp}.json`);
  // with FILESPACE_BENCH_S3RVER_NODE_ARGS=--trace-gc: what the store's GC did, next to the results
  if (process.env.FILESPACE_BENCH_S3RVER_NODE_ARGS)
    await writeFile(jsonFile.replace(/\.json$/, ".s3rver.log"), s3.output());
  await writeFile(jsonFile, `${JSON.stringify(run, null, 2)}\n`);
  await writeReport(run, jsonFile, opts.svg);
}

/** Prints the tables and writes the SVG and Markdown next to the JSON (also for --report). */
async function writeReport(run, jsonFile, svgOut) {
  const infos = workloadInfo(run.sizes);
  const systems = run.systems ?? ALL.filter((x) => Object.values(run.results).some((r) => r[x]));
  const svgFile = svgOut ?? jsonFile.replace(/\.json$/, ".svg");
  const cap = run.rateMiBps ? `${run.rateMiBps} MiB/s cap` : "no bandwidth cap";
  const cpus = run.storeCpus ? `store on CPU ${run.storeCpus}` : "store shares the CPUs";
  const subtitle = `${run.mode} sizes, proxy RTT ${run.rttMs.toFixed(0)} ms, ${cap}, ${cpus}, ${run.stamp}`;
  await writeFile(svgFile, svg(infos, run.results, systems, subtitle));
  await writeFile(
    jsonFile.replace(/\.json$/, ".md"),
    `${markdown(infos, run.results, systems)}\n\n${markdownEgress(infos, run.results, systems)}\n`,
  );
  process.stdout.write(
    `\n${subtitle}\n${printTable(infos, run.results, systems)}\n\n${printEgress(infos, run.results, systems)}\n\nJSON: ${jsonFile}\nSVG: ${svgFile}\n`,
  );
}

const reportOnly = process.argv.indexOf("--report");
(reportOnly >= 0
  ? readFile(process.argv[reportOnly + 1], "utf8").then((text) =>
      writeReport(JSON.parse(text), process.argv[reportOnly + 1]),
    )
  : main()
)
  .catch((err) => {
    process.stderr.write(`bench/wan: ${err.stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanupAll();
    process.exit(); // keep-alive sockets of the SDK would otherwise hold the loop open
  });
