/**
 * Recovery = newest valid checkpoint + replay of the journal segments after it, in order.
 *
 * 1. List checkpoints; open the newest that authenticates (an older one is used only if the
 *    segments it needs still exist — the density check below proves nothing was skipped).
 * 2. List segments from the checkpoint's `fromSeq`; they must be dense (a hole means a lost,
 *    possibly acknowledged segment → RecoveryError). A missing *tail* is just the end of the log:
 *    an upload that never landed was never acknowledged. Objects are atomic, so a segment that
 *    fails authentication is damage, never a "torn write" → IntegrityError, never skipped.
 * 3. Resolve epochs: a segment of epoch E written at or after the start seq of a newer epoch is a
 *    zombie's overwrite (only possible on stores without conditional put, and never acknowledged,
 *    since the zombie checks the lease after its put) → dropped.
 * 4. Replay records newer than the machine's version; versions must continue without a gap.
 */
import { IntegrityError } from "../../crypto/errors.js";
import type { JournalRecord, StateMachine } from "../replication.js";
import type { LocalObjectCache } from "./cache.js";
import { type CheckpointHeader, decodeCheckpoint } from "./checkpoint.js";
import { RecoveryError } from "./errors.js";
import {
  CHECKPOINT_PREFIX,
  fullKey,
  JOURNAL_PREFIX,
  listAll,
  numberFromKey,
  openSealed,
  type SealedStore,
  segmentKey,
} from "./layout.js";
import { decodeHeader, decodeSegment, type Segment, type SegmentHeader } from "./segment.js";

/** Builds the state machine from a checkpoint image (undefined = empty filespace, version 0). */
export type RestoreMachine<M> = (image: Buffer | undefined) => M;

export interface RecoveryOptions<M> {
  restore: RestoreMachine<M>;
  cache?: LocalObjectCache;
  /** Parallel segment downloads. Default 8. */
  concurrency?: number;
}

export interface SegmentSummary {
  seq: number;
  lastVersion: number;
}

export interface Recovered<M> {
  machine: M;
  /** First free journal seq. */
  nextSeq: number;
  /** Highest epoch seen in the journal or checkpoint (0 if none). */
  lastEpoch: number;
  checkpoint: CheckpointHeader | undefined;
  /** Checkpoints seen: version → fromSeq (where known). */
  checkpoints: Map<number, number | undefined>;
  segments: SegmentSummary[];
  /** Newer checkpoints that failed to open (recovery used an older one or the journal alone): log these. */
  skippedCheckpoints: { key: string; error: string }[];
  recordsReplayed: number;
  segmentsDropped: number;
  /** Timing breakdown in ms. */
  timing: { checkpointMs: number; segmentsMs: number; replayMs: number };
}

/** Fetch and open one sealed object, from the local cache when it holds this exact version. */
export async function fetchOpened(
  s: SealedStore,
  key: string,
  etag: string | undefined,
  cache?: LocalObjectCache,
): Promise<Buffer> {
  if (cache && etag) {
    const cached = await cache.get(key, etag);
    if (cached) {
      try {
        return openSealed(s, key, cached);
      } catch {
        // a damaged cache entry: fall through to the store
      }
    }
  }
  const sealed = await s.store.get(fullKey(s, key));
  const plain = openSealed(s, key, sealed);
  if (cache && etag) await cache.put(key, etag, sealed);
  return plain;
}

async function mapLimit<T, U>(items: T[], limit: number, fn: (t: T) => Promise<U>): Promise<U[]> {
  const out = new Array<U>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function recover<R, M extends StateMachine<R>>(
  s: SealedStore,
  options: RecoveryOptions<M>,
): Promise<Recovered<M>> {
  const t0 = performance.now();
  const cpList = (await listAll(s, CHECKPOINT_PREFIX))
    .map((o) => ({ ...o, version: numberFromKey(o.key, CHECKPOINT_PREFIX) }))
    .filter((o): o is typeof o & { version: number } => o.version !== undefined)
    .sort((a, b) => b.version - a.version);
  const checkpoints = new Map<number, number | undefined>(cpList.map((c) => [c.version, undefined]));

  let checkpoint: { header: CheckpointHeader; image: Buffer } | undefined;
  const failures: unknown[] = [];
  const skippedCheckpoints: { key: string; error: string }[] = [];
  for (const cp of cpList) {
    try {
      checkpoint = decodeCheckpoint(await fetchOpened(s, cp.key, cp.etag, options.cache));
      if (checkpoint.header.version !== cp.version) throw new IntegrityError(`checkpoint ${cp.key}: wrong version`);
      checkpoints.set(cp.version, checkpoint.header.fromSeq);
      break;
    } catch (err) {
      failures.push(err);
      skippedCheckpoints.push({ key: cp.key, error: (err as Error)?.message ?? String(err) });
      checkpoint = undefined;
    }
  }
  const machine = options.restore(checkpoint?.image);
  const baseVersion = checkpoint?.header.version ?? 0;
  if (machine.version !== baseVersion) {
    throw new RecoveryError(`restored machine is at version ${machine.version}, checkpoint at ${baseVersion}`);
  }
  const t1 = performance.now();

  const fromSeq = checkpoint?.header.fromSeq ?? 0;
  const segList = (await listAll(s, JOURNAL_PREFIX))
    .map((o) => ({ ...o, seq: numberFromKey(o.key, JOURNAL_PREFIX) }))
    .filter((o): o is typeof o & { seq: number } => o.seq !== undefined && o.seq >= fromSeq)
    .sort((a, b) => a.seq - b.seq);
  segList.forEach((o, i) => {
    if (o.seq !== fromSeq + i) {
      const why = failures.length ? ` (newer checkpoints failed: ${(failures[0] as Error).message})` : "";
      throw new RecoveryError(`journal segment ${fromSeq + i} is missing but ${o.seq} exists${why}`);
    }
  });
  if (cpList.length > 0 && !checkpoint && segList[0]?.seq !== 0) {
    throw new IntegrityError("no checkpoint authenticates and the journal does not start at 0", {
      cause: failures[0],
    });
  }
  // Keep opened bodies, decode records only at replay (one segment at a time): decoded records
  // cost several times their encoded size.
  const segments: { header: SegmentHeader; body: Buffer | undefined }[] = await mapLimit(
    segList,
    options.concurrency ?? 8,
    async (o) => {
      const body = await fetchOpened(s, o.key, o.etag, options.cache);
      const { header } = decodeHeader(body);
      if (header.seq !== o.seq) throw new IntegrityError(`${o.key} claims seq ${header.seq}`);
      return { header, body };
    },
  );
  const t2 = performance.now();

  // Epoch resolution: drop older-epoch segments at or after a newer epoch's start.
  const starts = new Map<number, number>();
  for (const seg of segments) {
    const e = seg.header.epoch;
    starts.set(e, Math.min(starts.get(e) ?? Number.POSITIVE_INFINITY, seg.header.epochStartSeq));
  }
  const kept = segments.filter(
    (seg) => ![...starts].some(([e, start]) => e > seg.header.epoch && start <= seg.header.seq),
  );

  let version = baseVersion;
  let recordsReplayed = 0;
  let epoch = checkpoint?.header.epoch ?? 0;
  const summaries: SegmentSummary[] = [];
  for (const seg of kept) {
    if (seg.header.epoch < epoch) throw new RecoveryError(`journal segment ${seg.header.seq}: epoch goes backwards`);
    epoch = seg.header.epoch;
    if (seg.header.baseVersion > version) {
      throw new RecoveryError(
        `journal segment ${seg.header.seq} starts after version ${seg.header.baseVersion}, state is at ${version}`,
      );
    }
    const records = decodeSegment<R>(seg.body!).records;
    seg.body = undefined;
    for (const entry of records as JournalRecord<R>[]) {
      if (entry.version <= version) continue;
      machine.replay(entry);
      version = entry.version;
      recordsReplayed++;
    }
    summaries.push({ seq: seg.header.seq, lastVersion: seg.header.baseVersion + seg.header.count });
  }
  if (machine.version !== version) {
    throw new RecoveryError(`machine reports version ${machine.version} after replaying to ${version}`);
  }
  const lastSeg = segList.at(-1);
  const lastEpoch = segments.reduce((m, x) => Math.max(m, x.header.epoch), epoch);
  await options.cache?.retain([...segList, ...cpList.filter((c) => c.version === checkpoint?.header.version)]);
  return {
    machine,
    nextSeq: lastSeg ? lastSeg.seq + 1 : fromSeq,
    lastEpoch,
    checkpoint: checkpoint?.header,
    checkpoints,
    segments: summaries,
    skippedCheckpoints,
    recordsReplayed,
    segmentsDropped: segments.length - kept.length,
    timing: { checkpointMs: t1 - t0, segmentsMs: t2 - t1, replayMs: performance.now() - t2 },
  };
}

/** Read one segment by seq (used when claiming a seq that someone else took). */
export async function readSegment<R>(s: SealedStore, seq: number): Promise<Segment<R>> {
  return decodeSegment<R>(await fetchOpened(s, segmentKey(seq), undefined));
}
