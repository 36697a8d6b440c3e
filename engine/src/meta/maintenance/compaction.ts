/**
 * Compaction: rewrite a heavily fragmented file into fresh, full chunks.
 *
 * Why it runs on a client: only clients hold the data key, so only a client can read the live
 * bytes and re-seal them. The metadata service merely accepts the new extent list.
 *
 * One file, step by step:
 *   1. getExtents (the whole resolved list) and its content fingerprint (size + extents);
 *   2. read the live bytes of every extent (ranged GETs of whole AEAD blocks, authenticated);
 *   3. pack them, in file order, into new chunks of up to `chunkSize` bytes (holes stay holes),
 *      seal and upload them under fresh ids;
 *   4. commitWrite the new extents with `ifContent` = the fingerprint from step 1. A write or
 *      truncate that landed meanwhile changed the fingerprint, so the service answers EBUSY
 *      instead of letting the stale copy shadow it: we delete our uploads and start over (up
 *      to `retries` times), never losing the concurrent write.
 * The old chunks are then referenced only by snapshots (if any) and become garbage for GC.
 * Uploads are committed right after they finish, well within GC's grace period.
 *
 * When is a file "heavily fragmented" (see `FragmentationPolicy`): more than 16 extents per
 * 64 MiB of file, or at least 8 extents of which more than half are tiny (< 256 KiB) — the
 * shapes random small overwrites and appends in small pieces leave behind. Each extent costs a
 * lookup per read and often its own GET; a full chunk is one GET for 8 MiB.
 */
import { type ChunkCodec, newChunkId } from "../../crypto/chunk.js";
import { CompressedChunkRangeError } from "../../crypto/errors.js";
import type { ObjectStore } from "../../object/types.js";
import type { CallContext, Extent, Ino, MetaApi } from "../api.js";
import { MetaError } from "../errors.js";
import { contentFingerprint } from "../namespace/fingerprint.js";

const MiB = 1024 * 1024;

export interface FragmentationPolicy {
  /** Fragmented if extents exceed this many per 64 MiB of file size (rounded up). Default 16. */
  maxExtentsPer64MiB: number;
  /** An extent shorter than this is "tiny". Default 256 KiB. */
  tinyExtentBytes: number;
  /** Fragmented if at least `minExtents` extents and more than this share are tiny. Default 0.5. */
  maxTinyShare: number;
  /** Files with fewer extents are never compacted. Default 8. */
  minExtents: number;
}

export const DEFAULT_FRAGMENTATION_POLICY: FragmentationPolicy = {
  maxExtentsPer64MiB: 16,
  tinyExtentBytes: 256 * 1024,
  maxTinyShare: 0.5,
  minExtents: 8,
};

/** Why a file counts as fragmented, or undefined if it does not. */
export function fragmentation(
  size: number,
  extents: readonly Extent[],
  policy: FragmentationPolicy = DEFAULT_FRAGMENTATION_POLICY,
): string | undefined {
  if (extents.length < policy.minExtents) return undefined;
  const allowed = policy.maxExtentsPer64MiB * Math.max(1, Math.ceil(size / (64 * MiB)));
  if (extents.length > allowed) return `${extents.length} extents (> ${allowed} for ${size} bytes)`;
  const tiny = extents.filter((e) => e.length < policy.tinyExtentBytes).length;
  if (tiny / extents.length > policy.maxTinyShare) return `${tiny} of ${extents.length} extents are tiny`;
  return undefined;
}

export interface CompactionDeps {
  api: MetaApi;
  /** rw token and an open session (commitWrite needs one). */
  ctx: CallContext;
  store: ObjectStore;
  codec: ChunkCodec;
  /** Plaintext bytes per new chunk (the filespace header's chunkSize). */
  chunkSize: number;
  compress?: boolean;
}

export interface CompactOptions {
  policy?: FragmentationPolicy;
  /** Compact even if not fragmented. */
  force?: boolean;
  /** Start over this many times when a concurrent write wins (EBUSY). Default 3. */
  retries?: number;
  /** Parallel ranged reads. Default 8. */
  concurrency?: number;
  /** Report what is fragmented, rewrite nothing. */
  dryRun?: boolean;
  /**
   * Give up (and delete the uploads) if the commit would come later than this after the first
   * upload started: GC deletes unreferenced chunks older than its grace period, so a commit
   * after that could reference deleted chunks. Default 30 min (half of GC's default 1 h grace);
   * keep it well below the grace period GC runs with.
   */
  commitWithinMs?: number;
}

/** Compaction of a file took longer than `commitWithinMs`; nothing was committed. */
export class CompactionTooSlowError extends Error {
  override name = "CompactionTooSlowError";
}

export interface CompactFileResult {
  ino: Ino;
  compacted: boolean;
  /** Why it was (fragmentation reason) or was not compacted. */
  reason: string;
  extentsBefore: number;
  extentsAfter: number;
  bytesRewritten: number;
  newChunks: string[];
  /** Chunks the file no longer references (garbage unless a snapshot or another file holds them). */
  releasedChunks: string[];
  /** Attempts lost to concurrent writes. */
  conflicts: number;
}

/** Packs the extents' bytes, in file order, into chunks; returns new extents (adjacent ones merged). */
function pack(extents: readonly Extent[], chunkSize: number) {
  const chunks: { id: string; parts: { extent: Extent; from: number; length: number }[]; length: number }[] = [];
  const out: Extent[] = [];
  for (const e of extents) {
    let done = 0;
    while (done < e.length) {
      let cur = chunks.at(-1);
      if (!cur || cur.length === chunkSize) {
        cur = { id: newChunkId(), parts: [], length: 0 };
        chunks.push(cur);
      }
      const n = Math.min(e.length - done, chunkSize - cur.length);
      cur.parts.push({ extent: e, from: done, length: n });
      const next: Extent = { offset: e.offset + done, length: n, chunk: cur.id, chunkOffset: cur.length };
      const prev = out.at(-1);
      if (
        prev &&
        prev.chunk === next.chunk &&
        prev.offset + prev.length === next.offset &&
        prev.chunkOffset + prev.length === next.chunkOffset
      ) {
        prev.length += n;
      } else out.push(next);
      cur.length += n;
      done += n;
    }
  }
  return { chunks, extents: out };
}

const chunkKey = (id: string) => `chunks/${id.slice(0, 2)}/${id}`;

/** Live bytes of one extent: a ranged GET of whole blocks; compressed chunks are read whole (cached). */
async function readExtent(deps: CompactionDeps, e: Extent, whole: Map<string, Promise<Buffer>>): Promise<Buffer> {
  if (!whole.has(e.chunk)) {
    const range = deps.codec.sealedRange(e.chunkOffset, e.length);
    const sealed = await deps.store.get(chunkKey(e.chunk), { range: { offset: range.offset, length: range.length } });
    try {
      const plain = deps.codec.openRange(e.chunk, sealed, range.firstBlock);
      const start = e.chunkOffset - range.firstBlock * deps.codec.blockSize;
      return plain.subarray(start, start + e.length);
    } catch (err) {
      if (!(err instanceof CompressedChunkRangeError)) throw err;
      whole.set(
        e.chunk,
        deps.store.get(chunkKey(e.chunk)).then((b) => deps.codec.open(e.chunk, b)),
      );
    }
  }
  const plain = await whole.get(e.chunk)!;
  return plain.subarray(e.chunkOffset, e.chunkOffset + e.length);
}

async function mapLimit<T, U>(items: readonly T[], limit: number, fn: (t: T) => Promise<U>): Promise<U[]> {
  const out = new Array<U>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export async function compactFile(
  deps: CompactionDeps,
  ino: Ino,
  options: CompactOptions = {},
): Promise<CompactFileResult> {
  const retries = options.retries ?? 3;
  let conflicts = 0;
  for (;;) {
    const { size, extents } = await deps.api.getExtents(deps.ctx, { ino });
    const base = {
      ino,
      extentsBefore: extents.length,
      conflicts,
      bytesRewritten: 0,
      newChunks: [],
      releasedChunks: [],
    };
    const why = fragmentation(size, extents, options.policy) ?? (options.force ? "forced" : undefined);
    if (!why) return { ...base, compacted: false, reason: "not fragmented", extentsAfter: extents.length };
    if (options.dryRun)
      return { ...base, compacted: false, reason: `would compact: ${why}`, extentsAfter: extents.length };
    const fingerprint = contentFingerprint(size, extents);
    const [attr] = (await deps.api.getattr(deps.ctx, { inos: [ino] })).items;
    if (!attr?.attr) throw new MetaError("ENOENT", `inode ${ino} vanished during compaction`);
    const packed = pack(extents, deps.chunkSize);
    const whole = new Map<string, Promise<Buffer>>();
    const bytes = await mapLimit(extents, options.concurrency ?? 8, (e) => readExtent(deps, e, whole));
    const byExtent = new Map(extents.map((e, i) => [e, bytes[i]!]));
    const uploadStarted = performance.now();
    await mapLimit(packed.chunks, 4, async (c) => {
      const plain = Buffer.concat(c.parts.map((p) => byExtent.get(p.extent)!.subarray(p.from, p.from + p.length)));
      await deps.store.put(chunkKey(c.id), deps.codec.seal(c.id, plain, { compress: deps.compress ?? false }));
    });
    const newChunks = packed.chunks.map((c) => c.id);
    const elapsed = performance.now() - uploadStarted;
    if (elapsed > (options.commitWithinMs ?? 30 * 60_000)) {
      await Promise.all(newChunks.map((id) => deps.store.delete(chunkKey(id)).catch(() => undefined)));
      throw new CompactionTooSlowError(
        `inode ${ino}: uploading ${newChunks.length} chunk(s) took ${Math.round(elapsed)} ms, past commitWithinMs; ` +
          "nothing committed (GC could already have collected the first uploads)",
      );
    }
    try {
      await deps.api.commitWrite(deps.ctx, {
        requestId: `compact-${newChunks[0] ?? "empty"}`.slice(0, 128),
        ino,
        extents: packed.extents,
        newSize: size,
        mtime: attr.attr.mtime, // content is unchanged: keep the file's mtime
        ifContent: fingerprint,
      });
    } catch (err) {
      // Our uploads are referenced by nothing: remove them now rather than leave them to GC.
      await Promise.all(newChunks.map((id) => deps.store.delete(chunkKey(id)).catch(() => undefined)));
      if (!(err instanceof MetaError && err.code === "EBUSY") || conflicts >= retries) throw err;
      conflicts++;
      continue;
    }
    const kept = new Set(newChunks);
    return {
      ...base,
      compacted: true,
      reason: why,
      extentsAfter: packed.extents.length,
      bytesRewritten: extents.reduce((n, e) => n + e.length, 0),
      newChunks,
      releasedChunks: [...new Set(extents.map((e) => e.chunk))].filter((id) => !kept.has(id)).sort(),
    };
  }
}

export interface CompactTreeResult {
  filesScanned: number;
  /** Files compacted (or, in a dry run, that would be). */
  files: CompactFileResult[];
  /** Files given up on (e.g. still busy after every retry), with the error. */
  failed: { ino: Ino; error: string }[];
}

/** Walks a directory tree (readdirplus pages) and compacts every fragmented regular file once. */
export async function compactTree(
  deps: CompactionDeps,
  root: Ino,
  options: CompactOptions = {},
): Promise<CompactTreeResult> {
  const result: CompactTreeResult = { filesScanned: 0, files: [], failed: [] };
  const seen = new Set<Ino>();
  const dirs: Ino[] = [root];
  while (dirs.length) {
    const dir = dirs.pop()!;
    let cookie: string | undefined;
    do {
      const page = await deps.api.readdirplus(deps.ctx, { ino: dir, ...(cookie ? { cookie } : {}) });
      for (const { attr } of page.entries) {
        if (attr.type === "dir") dirs.push(attr.ino);
        if (attr.type !== "file" || seen.has(attr.ino)) continue;
        seen.add(attr.ino); // hard links: once per inode
        result.filesScanned++;
        try {
          const r = await compactFile(deps, attr.ino, options);
          if (r.compacted || r.reason.startsWith("would")) result.files.push(r);
        } catch (err) {
          result.failed.push({ ino: attr.ino, error: (err as Error)?.message ?? String(err) });
        }
      }
      cookie = page.cookie;
    } while (cookie);
  }
  return result;
}
