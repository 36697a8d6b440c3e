/**
 * The seam between the namespace (a deterministic state machine) and its durability
 * (journal + checkpoints in the object store).
 *
 * The service turns each request into a *record*: a JSON-serialisable description of the
 * mutation with every non-deterministic choice already made (new inode ids, timestamps,
 * generation numbers). Applying the same records in the same order to the same image always
 * yields the same state — that is what makes recovery (checkpoint + journal replay) exact.
 *
 * Order of a mutation: validate and apply in memory (so errors are answered without I/O),
 * append the record to the journal, acknowledge only once `append` resolved (durable).
 * If `append` fails for good, the service stops (fail-stop): its memory is ahead of the
 * journal and only recovery can be trusted.
 */

/** A committed change, as journaled. The service assigns `version` (dense, increasing) when it applies the record. */
export interface JournalRecord<R = unknown> {
  version: number;
  record: R;
}

/** The deterministic state machine the journal replicates (the namespace implements it). */
export interface StateMachine<R = unknown> {
  /** Version of the last record applied (0 for an empty filespace). */
  readonly version: number;
  /** Re-apply a record during recovery; must not throw for a record that once succeeded. */
  replay(entry: JournalRecord<R>): void;
  /** A full image of the state at `version` (checkpoint body, before sealing). */
  exportImage(): Buffer;
}

/** Durable, ordered log of records. Implemented over the object store (meta/durable). */
export interface Journal<R = unknown> {
  /**
   * Durably append the next record (entry.version must be the previous one + 1); resolves once
   * it is in the object store. Calls made while a commit is in flight are group-committed into
   * the next segment; promises resolve in version order.
   */
  append(entry: JournalRecord<R>): Promise<void>;
  /** Ask for a checkpoint of `machine` soon (background; never blocks appends). */
  requestCheckpoint(): void;
  close(): Promise<void>;
}
