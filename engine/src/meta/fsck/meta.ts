/**
 * fsck of the metadata objects themselves: every checkpoint and journal segment authenticates
 * and decodes, the journal is dense from the newest checkpoint's `fromSeq`, and record versions
 * continue without a gap. Read-only; needs the service's at-rest key (run it in the service).
 */
import { decodeCheckpoint } from "../durable/checkpoint.js";
import {
  CHECKPOINT_PREFIX,
  getSealed,
  JOURNAL_PREFIX,
  listAll,
  numberFromKey,
  type SealedStore,
} from "../durable/layout.js";
import { decodeSegment } from "../durable/segment.js";

export interface MetaFsckReport {
  checkpoints: { version: number; fromSeq?: number; error?: string }[];
  segments: number;
  /** Damaged segments (fail authentication or decoding). */
  badSegments: { seq: number; error: string }[];
  /** Holes in the journal after the newest good checkpoint. */
  gaps: { afterSeq: number; nextSeq: number }[];
  /** Version discontinuities between consecutive segments (an older epoch's overwritten tail is expected and not listed). */
  versionGaps: { seq: number; expected: number; found: number }[];
  healthy: boolean;
}

export async function checkMetadata(s: SealedStore): Promise<MetaFsckReport> {
  const report: MetaFsckReport = {
    checkpoints: [],
    segments: 0,
    badSegments: [],
    gaps: [],
    versionGaps: [],
    healthy: true,
  };
  const cps = (await listAll(s, CHECKPOINT_PREFIX))
    .map((o) => numberFromKey(o.key, CHECKPOINT_PREFIX))
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => b - a);
  let from: { fromSeq: number; version: number } | undefined;
  for (const version of cps) {
    try {
      const { header } = decodeCheckpoint(
        await getSealed(s, `${CHECKPOINT_PREFIX}${String(version).padStart(16, "0")}`),
      );
      report.checkpoints.push({ version, fromSeq: header.fromSeq });
      from ??= { fromSeq: header.fromSeq, version };
    } catch (err) {
      report.checkpoints.push({ version, error: (err as Error).message });
    }
  }
  const seqs = (await listAll(s, JOURNAL_PREFIX))
    .map((o) => numberFromKey(o.key, JOURNAL_PREFIX))
    .filter((v): v is number => v !== undefined && v >= (from?.fromSeq ?? 0))
    .sort((a, b) => a - b);
  let expectedSeq = from?.fromSeq ?? 0;
  let version = from?.version ?? 0;
  let epoch = 0;
  for (const seq of seqs) {
    if (seq !== expectedSeq) report.gaps.push({ afterSeq: expectedSeq - 1, nextSeq: seq });
    expectedSeq = seq + 1;
    report.segments++;
    try {
      const seg = decodeSegment(await getSealed(s, `${JOURNAL_PREFIX}${String(seq).padStart(16, "0")}`));
      if (seg.header.epoch < epoch) continue; // a zombie's overwrite of a newer epoch's start: recovery drops it
      epoch = seg.header.epoch;
      if (seg.header.baseVersion > version) {
        report.versionGaps.push({ seq, expected: version, found: seg.header.baseVersion });
      }
      version = Math.max(version, seg.header.baseVersion + seg.header.count);
    } catch (err) {
      report.badSegments.push({ seq, error: (err as Error).message });
    }
  }
  report.healthy =
    report.badSegments.length === 0 &&
    report.gaps.length === 0 &&
    report.versionGaps.length === 0 &&
    (cps.length === 0 || from !== undefined);
  return report;
}
