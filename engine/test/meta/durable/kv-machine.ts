/**
 * A tiny deterministic state machine (a key-value map) standing in for the namespace.
 * Records: { op: "set", key, value } | { op: "del", key }. The image is the JSON of the map;
 * `captureImage` freezes a copy synchronously (the namespace does it in O(1)).
 */
import type { JournalRecord } from "../../../src/meta/replication.js";

export type KvRecord = { op: "set"; key: string; value: string } | { op: "del"; key: string };

export class KvMachine {
  version = 0;
  readonly map = new Map<string, string>();

  static restore(image: Buffer | undefined): KvMachine {
    const m = new KvMachine();
    if (image) {
      const { version, entries } = JSON.parse(image.toString()) as { version: number; entries: [string, string][] };
      m.version = version;
      for (const [k, v] of entries) m.map.set(k, v);
    }
    return m;
  }

  /** Apply a new mutation in memory; returns the record to journal. */
  apply(record: KvRecord): JournalRecord<KvRecord> {
    const entry = { version: this.version + 1, record };
    this.replay(entry);
    return entry;
  }

  replay(entry: JournalRecord<KvRecord>): void {
    if (entry.version !== this.version + 1)
      throw new Error(`replay out of order: ${entry.version} after ${this.version}`);
    const r = entry.record;
    if (r.op === "set") this.map.set(r.key, r.value);
    else this.map.delete(r.key);
    this.version = entry.version;
  }

  exportImage(): Buffer {
    return this.captureImage()();
  }

  captureImage(): () => Buffer {
    const snapshot = { version: this.version, entries: [...this.map] };
    return () => Buffer.from(JSON.stringify(snapshot));
  }

  toObject(): Record<string, string> {
    return Object.fromEntries([...this.map].sort());
  }
}
