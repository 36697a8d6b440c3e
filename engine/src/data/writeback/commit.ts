/**
 * The commit half of the write-back pipeline: a segment's uploaded steps become extents at the
 * metadata service (CommitSink), each under the commit id `wb-<segment id>-<step>` so a commit
 * repeated after a crash is deduplicated. One chain per inode keeps that inode's steps in plan
 * order (its `.done` lines are always a prefix of its steps); chains of different inodes run side
 * by side, bounded, so the metadata client can coalesce them into Batch rpcs.
 */
import type { CommitSink, Extent } from "../types.js";
import type { Step } from "./plan.js";
import { SlotPool } from "./pool.js";
import type { Segment } from "./segment.js";
import type { Retry } from "./upload.js";

export interface CommitDeps {
  sink: CommitSink;
  /** Commit steps (of different inodes) in flight at once. */
  concurrency: number;
  stopped: () => boolean;
  retry: Retry;
  /** A step landed and its `.done` line is written. */
  committed: (step: Step) => void;
}

/** Commits `steps` of `seg`; rejects (after every chain settled) when one of them failed. */
export async function commitSteps(
  seg: Segment,
  steps: Step[],
  extents: Map<number, Extent[]>,
  deps: CommitDeps,
): Promise<void> {
  const byIno = new Map<number, Step[]>();
  for (const step of steps) {
    const list = byIno.get(step.ino);
    if (list) list.push(step);
    else byIno.set(step.ino, [step]);
  }
  const pool = new SlotPool(deps.concurrency, deps.stopped);
  const chains = [...byIno.values()].map((list) =>
    pool.run(async () => {
      for (const step of list) await commitStep(seg, step, extents, deps);
    }),
  );
  // Wait for every chain, even when one fails, so nothing of this segment is still in flight
  // when the error surfaces (the segment then stays for the next flush or mount).
  const failed = (await Promise.allSettled(chains)).find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

async function commitStep(seg: Segment, step: Step, extents: Map<number, Extent[]>, deps: CommitDeps) {
  const commitId = `wb-${seg.id}-${step.index}`;
  const mtime = new Date(step.mtime);
  await deps.retry(() =>
    step.kind === "write"
      ? deps.sink.commitWrite(step.ino, extents.get(step.index) ?? [], step.newSize, mtime, { commitId })
      : deps.sink.setSize(step.ino, step.size, mtime, { commitId }),
  );
  seg.markDone(step.index);
  deps.committed(step);
}
