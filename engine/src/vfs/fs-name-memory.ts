/**
 * What the metadata service last said about single names, outside any complete directory
 * listing (those live in fs-dirs.ts):
 * - a name it resolved: younger than the TTL it answers LOOKUP again without a round trip (the
 *   sequence prefetcher looks up the next frames; the application's own LOOKUP then is free);
 *   of any age it serves while the service is unreachable;
 * - a name it said does not exist: a create right after may skip asking again (used once).
 * Names changed by this mount (unlink, rmdir, rename) must be forgotten here.
 */

/** Bounds: past these, the maps start over (memory, not correctness, is at stake). */
const MAX_RESOLVED = 200_000;
const MAX_ABSENT = 10_000;

export class NameMemory {
  private readonly resolvedAt = new Map<string, { vino: number; at: number }>();
  private readonly absentAt = new Map<string, number>();

  /** `ttlMs`: how long an answer stays good enough to skip the service. */
  constructor(private readonly ttlMs: number) {}

  /** The inode `name` resolved to less than the TTL ago. */
  recent(parent: number, name: string): number | undefined {
    const seen = this.resolvedAt.get(key(parent, name));
    return seen && Date.now() - seen.at < this.ttlMs ? seen.vino : undefined;
  }

  /** The inode `name` last resolved to, however long ago. */
  last(parent: number, name: string): number | undefined {
    return this.resolvedAt.get(key(parent, name))?.vino;
  }

  resolved(parent: number, name: string, vino: number): void {
    if (this.resolvedAt.size > MAX_RESOLVED) this.resolvedAt.clear();
    this.resolvedAt.set(key(parent, name), { vino, at: Date.now() });
  }

  /** The name changed here: its remembered answer must not serve lookups. */
  forget(parent: number, name: string): void {
    this.resolvedAt.delete(key(parent, name));
  }

  /** The service just said `name` does not exist. */
  absent(parent: number, name: string): void {
    const k = key(parent, name);
    this.resolvedAt.delete(k);
    if (this.absentAt.size > MAX_ABSENT) this.absentAt.clear();
    this.absentAt.set(k, Date.now());
  }

  /** True when the service said so less than the TTL ago; the answer is used up. */
  takeAbsent(parent: number, name: string): boolean {
    const k = key(parent, name);
    const at = this.absentAt.get(k);
    this.absentAt.delete(k);
    return at !== undefined && Date.now() - at < this.ttlMs;
  }
}

function key(parent: number, name: string): string {
  return `${parent}\0${name}`;
}
