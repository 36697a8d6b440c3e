/**
 * `runMount`: one mount process, wired top to bottom —
 *
 *   object store ─ filespace.json (keyring) ─ metadata (embedded durable service, or gRPC client)
 *   ─ session ─ DataPath (caches, prefetch, write-back log) ─ FilespaceVfs ─ FUSE (native, else
 *   fuse-native) ─ control socket (+ Prometheus metrics).
 *
 * Stop (control `unmount`, SIGTERM/SIGINT): unmount the kernel side, then drain the write-back
 * (every upload committed) — or with `force` leave it queued in the local log and report how
 * much — then close the session, the service (checkpoint, lease released) and the store.
 */
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { ChunkCodec, newChunkId } from "../crypto/chunk.js";
import { NameSealer } from "../crypto/names.js";
import { writeBackLogKeys } from "../crypto/writeback-log-key.js";
import { parseDataPathConfig } from "../data/config.js";
import { DataPath } from "../data/data-path.js";
import { CachedExtentSource } from "../data/extent-cache.js";
import { openFilespace, type Unlock } from "../format/filespace.js";
import { HEADER_KEY } from "../format/header.js";
import { mountVfs } from "../fuse/mount.js";
import type { FuseMount } from "../fuse/types.js";
import type { MetaApi } from "../meta/api.js";
import { MetaClient } from "../meta/grpc/client.js";
import { openObjectStore } from "../object/url.js";
import { FilespaceVfs } from "../vfs/filespace-vfs.js";
import { MetaCommitSink, MetaExtentSource } from "../vfs/fs-data.js";
import { InodeMap } from "../vfs/fs-inodes.js";
import { NameCodec } from "../vfs/fs-names.js";
import { MetaSession } from "../vfs/fs-session.js";
import { ControlServer } from "./control-server.js";
import { type EmbeddedMeta, openEmbeddedMeta } from "./embedded-meta.js";
import { MountError } from "./errors.js";
import { startMetrics } from "./metrics.js";
import { MountControl } from "./mount-control.js";
import { defaultCacheDir, type MountOptions, mountOptionsSchema } from "./options.js";
import { socketPathFor } from "./socket-path.js";

export interface RunningMount {
  mountpoint: string;
  binding: string;
  cacheDir: string;
  socket: string;
  metricsAddress?: string;
  vfs: FilespaceVfs;
  data: DataPath;
  /** Settles when the mount is gone (after stop, or unmounted from outside and cleaned up). */
  done: Promise<{ pendingSegments: number; pendingBytes: number }>;
  stop(options?: { force?: boolean }): Promise<{ pendingSegments: number; pendingBytes: number }>;
}

export async function runMount(
  input: MountOptions,
  unlock: Unlock,
  log: (line: string) => void = (l) => process.stderr.write(`filespace mount: ${l}\n`),
): Promise<RunningMount> {
  const o = mountOptionsSchema.parse(input);
  const mountpoint = resolve(o.mountpoint);
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err) => log(`cleanup: ${(err as Error).message}`));
  };
  try {
    const store = await openObjectStore(o.storeUrl);
    cleanups.push(() => store.close());
    const { header, keyring } = await openFilespace(store, unlock);
    const cacheDir = resolve(o.cacheDir ?? defaultCacheDir(header.filespaceId));
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });

    let api: MetaApi;
    let token: string;
    let embedded: EmbeddedMeta | undefined;
    if (o.meta) {
      if (!o.token) throw new MountError("--meta needs an access token (--token or FILESPACE_META_TOKEN)");
      const client = new MetaClient({
        address: o.meta,
        retryBudgetMs: o.metaRetryMs,
        callTimeoutMs: Math.max(2000, o.metaRetryMs),
      });
      cleanups.push(async () => client.close());
      api = client;
      token = o.token;
    } else {
      embedded = await openEmbeddedMeta({
        store,
        keyring,
        cacheDir: join(cacheDir, "meta"),
        leaseTtlMs: o.leaseTtlMs,
        log,
      });
      const e = embedded;
      cleanups.push(() => e.close());
      api = embedded.service;
      token = embedded.token;
    }
    const session = await MetaSession.open(api, token, `mount ${hostname()}:${mountpoint}`);
    cleanups.push(() => session.close());
    if (o.snapshot) {
      // Fail at mount time, not with ENOENT on every lookup of an empty-looking mount.
      const { snapshots } = await session.call((c) => api.listSnapshots(c));
      if (!snapshots.some((s) => s.name === o.snapshot))
        throw new MountError(
          `--snapshot: no snapshot named ${JSON.stringify(o.snapshot)} (have: ${snapshots.map((s) => s.name).join(", ") || "none"})`,
        );
    }

    const inodes = new InodeMap(o.snapshot);
    let vfs: FilespaceVfs | undefined;
    // Commits replayed from the write-back log wait until the VFS has replayed its namespace journal.
    let vfsReady!: () => void;
    const vfsMade = new Promise<void>((r) => (vfsReady = r));
    const settleCreate = async (vino: number) => {
      await vfsMade;
      await vfs?.settle(vino);
    };
    const settleCommit = async (vino: number) => {
      await vfsMade;
      await vfs?.settleForCommit(vino);
    };
    const extents = new CachedExtentSource(new MetaExtentSource(session, inodes, settleCreate));
    const sink = new MetaCommitSink(
      session,
      {
        committed: (vino, attr) => vfs?.onCommitted(vino, attr),
        dropped: (vino) => vfs?.onCommitted(vino, undefined),
      },
      settleCommit,
    );
    const config = parseDataPathConfig({ ...o.data, diskCacheBytes: o.cacheSizeBytes, chunkBytes: header.chunkSize });
    const data = await DataPath.open(
      {
        store,
        codec: new ChunkCodec(keyring, { blockSize: header.blockSize }),
        extents,
        sink,
        newChunkId,
        cacheDir: join(cacheDir, "blocks"),
        logDir: join(cacheDir, "writeback"),
        logKeys: writeBackLogKeys(keyring),
        sequenceHint: (ino, count) => (vfs ? vfs.predictNext(ino, count) : Promise.resolve([])),
        // fetch workers reopen the store from its URL and open blocks with the same keys
        workerAccess: { storeUrl: o.storeUrl, keyring },
      },
      config,
    );
    cleanups.push(() => data.close({ force: true }));
    vfs = new FilespaceVfs({
      session,
      names: new NameCodec(new NameSealer(keyring)),
      data,
      extents,
      inodes,
      readOnly: o.readOnly,
      ...(o.snapshot ? { snapshot: o.snapshot } : {}),
      attrTimeoutS: o.attrTimeoutS,
      hostName: hostname(),
      namespaceLogDir: join(cacheDir, "namespace"),
      log,
      preconnect: () => void store.preconnect?.(),
      syncClose: o.syncClose,
    });
    vfsReady();
    const fuse: FuseMount = await mountVfs(
      vfs,
      mountpoint,
      {
        binding: o.binding,
        allowOther: o.allowOther,
        attrTimeout: o.attrTimeoutS,
        fsname: "filespace",
        extraOptions: o.readOnly || o.snapshot ? ["ro"] : [],
      },
      (m, err) => log(`${m}${err ? ` ${(err as Error).message ?? err}` : ""}`),
    );
    // The first cold read's GET then finds a connection and a client that has sent a request
    // before (in the fetch worker that sends it): one 1-byte GET of the header per client.
    void store.preconnect?.({ probeKey: HEADER_KEY });
    const metrics = o.metrics ? await startMetrics(o.metrics, data) : undefined;
    const backlogWatch = watchBacklog(data, config.maxBacklogBytes, config.backlogFullWaitMs, log);

    let stopping: Promise<{ pendingSegments: number; pendingBytes: number }> | undefined;
    let settle!: (r: { pendingSegments: number; pendingBytes: number }) => void;
    const done = new Promise<{ pendingSegments: number; pendingBytes: number }>((r) => (settle = r));
    const stop = (opts: { force?: boolean } = {}) => {
      stopping ??= (async () => {
        clearInterval(backlogWatch);
        await fuse.unmount().catch((err) => log(`unmount: ${(err as Error).message}`));
        // Queued creates first: the write-back's commits wait for them anyway.
        await drainNamespace(vfs as FilespaceVfs, opts.force ?? false, log);
        let pending = { pendingSegments: 0, pendingBytes: 0 };
        try {
          pending = await data.close(opts);
        } catch (err) {
          log(`write-back: ${(err as Error).message}`);
        }
        cleanups.pop(); // data is closed
        await control.close();
        await metrics?.close();
        await cleanup();
        settle(pending);
        return pending;
      })();
      return stopping;
    };
    const mountControl = new MountControl({
      vfs,
      data,
      extents,
      api,
      session,
      cacheDir,
      stop,
      embedded: embedded !== undefined,
    });
    const socket = socketPathFor(mountpoint);
    const control = await ControlServer.start(socket, (req, progress) => mountControl.handle(req, progress), log);
    fuse.closed.then(() => {
      if (!stopping) {
        log("unmounted from outside; draining uploads");
        void stop();
      }
    });
    embedded?.failed.then((err) => {
      log(`metadata journal failed: ${err.message}; unmounting with uploads left queued`);
      void stop({ force: true });
    });
    return {
      mountpoint,
      binding: fuse.binding,
      cacheDir,
      socket,
      ...(metrics ? { metricsAddress: metrics.address } : {}),
      vfs,
      data,
      done,
      stop,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Writes that find the write-back log full fail with ENOSPC, which the FUSE layer does not log
 * (it is an ordinary errno). Say in the mount log why, once, when the backlog comes within one
 * write (1 MiB) or 10 % of the bound — a refused write leaves it below the bound itself — and
 * again once it has drained.
 */
function watchBacklog(data: DataPath, limit: number, waitMs: number, log: (line: string) => void): NodeJS.Timeout {
  const nearlyFull = limit - Math.max(1024 ** 2, limit / 10);
  let full = false;
  const timer = setInterval(() => {
    const wb = data.stats().writeBack;
    if (!full && wb.backlogBytes >= nearlyFull) {
      full = true;
      log(
        `write-back log full: ${wb.backlogBytes} bytes not yet committed (limit ${limit}); writes that do not fit ` +
          `fail with ENOSPC after waiting ${waitMs} ms until uploads commit again` +
          `${wb.lastError ? ` (last error: ${wb.lastError})` : ""}`,
      );
    } else if (full && wb.backlogBytes < limit / 2) {
      full = false;
      log(`write-back log drained to ${wb.backlogBytes} bytes; writes accepted again`);
    }
  }, 1000);
  timer.unref();
  return timer;
}

/**
 * Waits for the namespace queue. Forced: waits a few seconds at most, then leaves the rest in the
 * namespace journal (the next mount sends them before their files' data commits).
 */
async function drainNamespace(vfs: FilespaceVfs, force: boolean, log: (line: string) => void): Promise<void> {
  const queued = vfs.namespaceStats().queued;
  if (queued === 0) return;
  log(`waiting for ${queued} queued namespace changes to reach the metadata service`);
  if (!force) return vfs.drainNamespace();
  await Promise.race([vfs.drainNamespace(), new Promise((r) => setTimeout(r, 5000).unref())]);
  vfs.stopNamespace();
  const left = vfs.namespaceStats().queued;
  if (left > 0)
    log(`forced unmount: ${left} queued namespace changes left in the local journal; the next mount sends them`);
}
