/**
 * Retention: keep the newest `keep` checkpoints, delete older ones, then delete journal segments
 * below the oldest kept checkpoint's `fromSeq` (at least two checkpoints are worth keeping: a
 * damaged newest one then still leaves a complete path). Segments are pruned only when every
 * kept checkpoint's `fromSeq` is known to this instance.
 */
import {
  CHECKPOINT_PREFIX,
  checkpointKey,
  fullKey,
  JOURNAL_PREFIX,
  listAll,
  numberFromKey,
  type SealedStore,
} from "./layout.js";

/** Returns the segment cutoff applied (segments below it were deleted), or undefined if none. */
export async function pruneCheckpointsAndSegments(
  s: SealedStore,
  keep: number,
  /** checkpoint version → fromSeq, where known; updated in place. */
  known: Map<number, number | undefined>,
): Promise<number | undefined> {
  const listed = (await listAll(s, CHECKPOINT_PREFIX))
    .map((o) => numberFromKey(o.key, CHECKPOINT_PREFIX))
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => b - a);
  const kept = listed.slice(0, keep);
  for (const v of listed.slice(keep)) {
    await s.store.delete(fullKey(s, checkpointKey(v)));
    known.delete(v);
  }
  const needs = kept.map((v) => known.get(v));
  if (needs.length === 0 || needs.some((x) => x === undefined)) return undefined; // unknown fromSeq: keep all
  const cutoff = Math.min(...(needs as number[]));
  for (const o of await listAll(s, JOURNAL_PREFIX)) {
    const seq = numberFromKey(o.key, JOURNAL_PREFIX);
    if (seq !== undefined && seq < cutoff) await s.store.delete(fullKey(s, o.key));
  }
  return cutoff;
}
