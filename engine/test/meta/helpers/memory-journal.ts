/**
 * An in-memory Journal for namespace/service tests (the object-store journal lives in
 * meta/durable). Group commit like the real one: appends made while a "flush" is in flight
 * resolve together, in version order. `delayMs` simulates a slow store; `failAfter` makes
 * the n-th next append fail (fail-stop tests).
 */
import type { NsRecord } from "../../../src/meta/namespace/records.js";
import type { Journal, JournalRecord } from "../../../src/meta/replication.js";

export class MemoryJournal implements Journal<NsRecord> {
  readonly records: JournalRecord<NsRecord>[] = [];
  delayMs = 0;
  failAfter: number | undefined;
  checkpointRequests = 0;
  #last = 0;

  constructor(startVersion = 0) {
    this.#last = startVersion;
  }

  async append(entry: JournalRecord<NsRecord>): Promise<void> {
    if (entry.version !== this.#last + 1)
      throw new Error(`journal order: expected ${this.#last + 1}, got ${entry.version}`);
    this.#last = entry.version;
    if (this.failAfter !== undefined && this.failAfter-- <= 0) throw new Error("injected journal failure");
    // Deep copy through JSON, as a real journal would serialise it.
    this.records.push(JSON.parse(JSON.stringify(entry)) as JournalRecord<NsRecord>);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
  }

  requestCheckpoint(): void {
    this.checkpointRequests++;
  }

  async close(): Promise<void> {}
}
