/**
 * What the control socket can ask of a running mount: stats, unmount (drain or force), pin/unpin
 * (warm a tree and keep its chunks in the disk cache; pins are re-resolved periodically so
 * files others change stay cached), warm (with streamed progress), cache resize, snapshots.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DataPath } from "../data/data-path.js";
import type { ExtentSource } from "../data/types.js";
import type { MetaApi } from "../meta/api.js";
import type { FilespaceVfs } from "../vfs/filespace-vfs.js";
import type { MetaSession } from "../vfs/fs-session.js";
import type { ControlAnswer, ParsedControlRequest, WarmProgress } from "./control-protocol.js";
import { filesUnder, type TreeFile } from "./tree.js";

export interface MountControlDeps {
  vfs: FilespaceVfs;
  data: DataPath;
  extents: ExtentSource;
  api: MetaApi;
  session: MetaSession;
  cacheDir: string;
  embedded: boolean;
  stop(o: { force?: boolean }): Promise<{ pendingSegments: number; pendingBytes: number }>;
}

const PIN_REFRESH_MS = 60_000;

export class MountControl {
  private readonly pinsFile: string;
  private pins: string[];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly d: MountControlDeps) {
    this.pinsFile = join(d.cacheDir, "pinned-paths.json");
    try {
      this.pins = JSON.parse(readFileSync(this.pinsFile, "utf8")) as string[];
    } catch {
      this.pins = [];
    }
    this.timer = setInterval(() => void this.refreshPins(), PIN_REFRESH_MS);
    this.timer.unref();
  }

  async handle(req: ParsedControlRequest, progress: (o: object) => void): Promise<ControlAnswer> {
    switch (req.op) {
      case "stats":
        return { ok: true, stats: this.stats() };
      case "unmount": {
        clearInterval(this.timer);
        const pending = await this.d.stop({ force: req.force });
        return { ok: true, ...pending };
      }
      case "warm": {
        const p = await this.warm(req.path, (w) => progress(w));
        return { ok: true, ...p };
      }
      case "pin": {
        const chunks = await this.pinPath(req.path, progress);
        if (!this.pins.includes(req.path)) this.pins.push(req.path);
        this.savePins();
        return { ok: true, chunks };
      }
      case "unpin": {
        const chunks = await this.chunksOf(await filesUnder(this.d.vfs, req.path));
        await this.d.data.disk?.unpin(chunks);
        this.pins = this.pins.filter((p) => p !== req.path);
        this.savePins();
        return { ok: true, chunks: chunks.length };
      }
      case "cache-resize":
        this.d.data.resizeDiskCache(req.bytes);
        return { ok: true, maxBytes: req.bytes };
      case "snapshot":
        return this.snapshot(req.action, req.name);
    }
  }

  stats() {
    const s = this.d.data.stats();
    const acc = s.prefetch.accuracy;
    return {
      cache: {
        memoryHits: s.memory.hits,
        memoryMisses: s.memory.misses,
        memoryBytes: s.memory.bytes,
        diskHits: s.disk?.hits ?? 0,
        diskMisses: s.disk?.misses ?? 0,
        diskBytes: s.disk?.bytes ?? 0,
        diskMaxBytes: s.disk?.maxBytes ?? 0,
        pinnedBytes: s.disk?.pinnedBytes ?? 0,
        /** Plaintext slots (reused memory blocks are opened into), and blocks that found none free. */
        slabSlots: s.slab?.slots ?? 0,
        slabInUse: s.slab?.inUse ?? 0,
        slabExhausted: s.slab?.exhausted ?? 0,
        /** Cache-file writes/reads around the page cache (O_DIRECT) and through it (main thread). */
        diskIoDirect: s.diskIo.directWrites + s.diskIo.directReads,
        diskIoBuffered: s.diskIo.bufferedWrites + s.diskIo.bufferedReads,
      },
      egress: { bytes: s.fetch.getBytes, requests: s.fetch.gets, blocksFromStore: s.fetch.blocksFromStore },
      upload: {
        backlogBytes: s.writeBack.backlogBytes,
        backlogSegments: s.writeBack.backlogSegments,
        uploadedBytes: s.writeBack.uploadedBytes,
        commits: s.writeBack.commits,
        ...(s.writeBack.lastError ? { lastError: s.writeBack.lastError } : {}),
      },
      prefetch: {
        bytesIssued: s.prefetch.bytesIssued,
        blocksPrefetched: acc.prefetched,
        blocksUsed: acc.used,
        blocksWasted: acc.wasted,
        accuracy: acc.prefetched > 0 ? acc.used / acc.prefetched : null,
      },
      /** Creates answered locally and queued for the metadata service (conflicts: re-created under another name). */
      namespace: this.d.vfs.namespaceStats(),
      pins: this.pins,
    };
  }

  private async warm(path: string, progress: (p: WarmProgress) => void): Promise<WarmProgress> {
    const files = await filesUnder(this.d.vfs, path);
    const p: WarmProgress = {
      files: 0,
      totalFiles: files.length,
      bytes: 0,
      totalBytes: files.reduce((n, f) => n + f.size, 0),
    };
    progress({ ...p });
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const f = files[next++]!;
        if (f.size > 0) await this.d.data.warm(f.ino, 0, f.size);
        p.files++;
        p.bytes += f.size;
        progress({ ...p });
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    return p;
  }

  private async chunksOf(files: TreeFile[]): Promise<string[]> {
    const ids = new Set<string>();
    for (const f of files) {
      if (f.size === 0) continue;
      for (const e of await this.d.extents.getExtents(f.ino, 0, f.size)) ids.add(e.chunkId);
    }
    return [...ids];
  }

  private async pinPath(path: string, progress: (o: object) => void): Promise<number> {
    const files = await filesUnder(this.d.vfs, path);
    const chunks = await this.chunksOf(files);
    await this.d.data.disk?.pin(chunks);
    await this.warm(path, progress);
    return chunks.length;
  }

  private async refreshPins(): Promise<void> {
    for (const p of this.pins) {
      await this.pinPath(p, () => {}).catch(() => undefined);
    }
  }

  private savePins(): void {
    writeFileSync(this.pinsFile, JSON.stringify(this.pins));
  }

  private async snapshot(action: "create" | "list" | "delete", name?: string): Promise<ControlAnswer> {
    const call = this.d.session;
    if (action === "list") {
      const { snapshots } = await call.call((c) => this.d.api.listSnapshots(c));
      return { ok: true, snapshots };
    }
    if (!name) return { ok: false, error: "name: expected a snapshot name" };
    if (action === "create") {
      const info = await call.call((c) => this.d.api.createSnapshot(c, { requestId: randomUUID(), name }));
      return { ok: true, snapshot: info };
    }
    await call.call((c) => this.d.api.deleteSnapshot(c, { requestId: randomUUID(), name }));
    return { ok: true };
  }
}
