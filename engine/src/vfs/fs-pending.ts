/**
 * The namespace queue: creates (and the changes that follow them closely, like tar's utimes)
 * that this mount has already answered and that still have to reach the metadata service.
 *
 * A pipeline, not a line: every queued change starts as soon as what it depends on has landed
 * (a create in a new directory waits for that directory's mkdir), many are in flight at once so
 * the MetaClient coalesces them into Batch rpcs. Anything else that touches a queued inode or a
 * directory with queued children (write-back commits, open for write, unlink, rename, listing,
 * fsync) first waits for it with `settle`.
 *
 * Failures: an unreachable service is not a failure — the change stays queued and is retried
 * with the same request id (the service deduplicates) until it lands; `drain` (unmount) waits for
 * all of them. A change the service refuses is handed back to its owner's `onRefused` (the VFS
 * re-creates under a conflict name, see filespace-create.ts); if that fails too, the inode is
 * marked failed: later waits on it throw, and the loss is logged and counted, never silent.
 */
import { MetaError } from "../meta/errors.js";

export interface QueuedChange {
  /** The inode this change is about (a create: the new inode). */
  vino: number;
  /** The directory a create puts a name in (listings of it wait). */
  parent?: number;
  /** Inodes whose queued creates must land first. */
  after: number[];
  /** Does the work; throws MetaError when the service refuses. */
  run(): Promise<void>;
  /** Short description for log lines. */
  what: string;
  /** Waited for before the change takes one of the in-flight slots (e.g. a write-back flush). */
  before?: () => Promise<void>;
  /** This change makes the inode (the data path waits for these only, see `settleCreate`). */
  creates?: boolean;
}

export interface PendingStats {
  queued: number;
  inFlight: number;
  landed: number;
  retries: number;
  failed: number;
}

/** The service refused a queued change for good (the inode was never made). */
export class QueuedChangeFailedError extends Error {
  override name = "QueuedChangeFailedError";
}

/** Worth retrying: the service (or the link to it) is down, not refusing. */
export const transient = (err: unknown) =>
  err instanceof MetaError
    ? err.code === "UNAVAILABLE" || err.code === "STALE_SESSION"
    : (err as Error | undefined)?.name === "MetaTransportError";

export class PendingQueue {
  /** Per inode: settles when its last queued change has landed (rejects if one failed). */
  private readonly tails = new Map<number, Promise<void>>();
  private readonly byParent = new Map<number, Set<Promise<void>>>();
  /** Per inode: how many of its changes are queued. */
  private readonly counts = new Map<number, number>();
  /** Per inode: its queued create. */
  private readonly creations = new Map<number, Promise<void>>();
  private readonly failures = new Map<number, Error>();
  private readonly all = new Set<Promise<void>>();
  private inFlight = 0;
  private readonly slots: Array<() => void> = [];
  private landedCount = 0;
  private stopped = false;
  /** When a queued change last found the service unreachable (0: never). */
  private unreachableAt = 0;
  /** When a queued change last landed. */
  private landedAt = 0;
  private retries = 0;
  private failedCount = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly o = { maxInFlight: 256, maxQueued: 100_000, retryMaxMs: 5000 },
  ) {}

  /** True when `vino` has a change that has not landed yet. */
  pending(vino: number): boolean {
    return this.tails.has(vino);
  }

  /** Changes of `vino` still queued (the one running included). */
  queuedFor(vino: number): number {
    return this.counts.get(vino) ?? 0;
  }

  size(): number {
    return this.all.size;
  }

  /** Room for one more? (The caller refuses new work with a clear error when not.) */
  full(): boolean {
    return this.all.size >= this.o.maxQueued;
  }

  add(c: QueuedChange): void {
    // This inode's earlier changes, and the creates of the inodes it needs (not their later
    // changes: a queued utimes of a directory does not hold up creates in it).
    const deps = [this.tails.get(c.vino), ...c.after.map((v) => this.creations.get(v))].filter((p) => p !== undefined);
    const p = (async () => {
      // A failed dependency fails this change too (its inode or directory does not exist).
      await Promise.all(deps);
      // Outside the slots: a change waiting for a flush must not hold one that the creates
      // its flush depends on need.
      await c.before?.();
      await this.slot();
      try {
        await this.runWithRetry(c);
        this.landedCount++;
        this.landedAt = Date.now();
      } catch (err) {
        if (this.stopped && transient(err)) throw err; // left queued (in the journal) by a forced unmount
        this.failedCount++;
        if (c.creates) this.failures.set(c.vino, err as Error);
        this.log(`queued ${c.what} failed for good: ${(err as Error).message}`);
        throw err;
      } finally {
        this.release();
      }
    })();
    p.catch(() => undefined);
    this.tails.set(c.vino, p);
    this.counts.set(c.vino, (this.counts.get(c.vino) ?? 0) + 1);
    if (c.creates) this.creations.set(c.vino, p);
    this.all.add(p);
    let siblings: Set<Promise<void>> | undefined;
    if (c.parent !== undefined) {
      siblings = this.byParent.get(c.parent) ?? new Set();
      this.byParent.set(c.parent, siblings);
      siblings.add(p);
    }
    const done = () => {
      this.all.delete(p);
      if (this.tails.get(c.vino) === p) this.tails.delete(c.vino);
      const left = (this.counts.get(c.vino) ?? 1) - 1;
      if (left > 0) this.counts.set(c.vino, left);
      else this.counts.delete(c.vino);
      if (this.creations.get(c.vino) === p) this.creations.delete(c.vino);
      if (siblings && c.parent !== undefined) {
        siblings.delete(p);
        if (siblings.size === 0 && this.byParent.get(c.parent) === siblings) this.byParent.delete(c.parent);
      }
    };
    p.then(done, done);
  }

  /** Waits until the queued changes of these inodes have landed; throws if one failed for good. */
  async settle(vinos: Iterable<number>): Promise<void> {
    for (const v of vinos) {
      const p = this.tails.get(v);
      if (p) await p.catch(() => undefined);
      const failed = this.failures.get(v);
      if (failed)
        throw new QueuedChangeFailedError(`inode ${v} was never created: ${failed.message}`, { cause: failed });
    }
  }

  /**
   * Waits until the inode's queued create (only: not the changes queued behind it) has landed;
   * throws if it failed for good. The data path uses this: a queued utimes waits for the
   * write-back flush, so commits waiting for it would wait for themselves.
   */
  async settleCreate(vino: number): Promise<void> {
    const p = this.creations.get(vino);
    if (p) await p.catch(() => undefined);
    const failed = this.failures.get(vino);
    if (failed)
      throw new QueuedChangeFailedError(`inode ${vino} was never created: ${failed.message}`, { cause: failed });
  }

  /** Are creates of names in `dir` still queued? */
  childrenQueued(dir: number): boolean {
    return this.byParent.has(dir);
  }

  /** Waits until every queued create of a name in `dir` has landed (or failed). */
  async settleChildren(dir: number): Promise<void> {
    const set = this.byParent.get(dir);
    if (set) await Promise.all([...set].map((p) => p.catch(() => undefined)));
  }

  /** Why `vino` failed, if it did. */
  failure(vino: number): Error | undefined {
    return this.failures.get(vino);
  }

  /**
   * Like `settleCreate`, but while the create is queued and the service was found
   * unreachable in the last `withinMs`, throws UNAVAILABLE at once, and after `maxWaitMs` of
   * waiting too (the write-back then counts the failure and retries on its own schedule).
   */
  async settleUnlessUnreachable(vino: number, withinMs = 10_000, maxWaitMs = 2000): Promise<void> {
    const tail = this.creations.get(vino);
    if (!tail) return this.settleCreate(vino);
    const unreachable = () =>
      new MetaError("UNAVAILABLE", `the create of inode ${vino} is still queued: metadata service unreachable`);
    if (Date.now() - this.unreachableAt < withinMs) throw unreachable();
    const done = tail.then(
      () => "ok" as const,
      () => "ok" as const,
    );
    // Keep waiting while the queue makes progress (a long queue over a slow link); give up when
    // nothing has landed for `maxWaitMs` (the service is probably gone: the client is still retrying).
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const slow = new Promise<"slow">((r) => {
        timer = setTimeout(() => r("slow"), maxWaitMs).unref();
      });
      const won = await Promise.race([done, slow]);
      clearTimeout(timer);
      if (won === "ok") return this.settleCreate(vino);
      if (Date.now() - this.landedAt > maxWaitMs) throw unreachable();
    }
  }

  /** Stops retrying (forced unmount): what is still queued stays in the journal for the next mount. */
  stop(): void {
    this.stopped = true;
  }

  /** Waits until the queue is empty (unmount). */
  async drain(): Promise<void> {
    while (this.all.size > 0) await Promise.all([...this.all].map((p) => p.catch(() => undefined)));
  }

  stats(): PendingStats {
    return {
      queued: this.all.size,
      inFlight: this.inFlight,
      landed: this.landedCount,
      retries: this.retries,
      failed: this.failedCount,
    };
  }

  private async runWithRetry(c: QueuedChange): Promise<void> {
    let wait = 100;
    for (let attempt = 1; ; attempt++) {
      try {
        return await c.run();
      } catch (err) {
        if (!transient(err) || this.stopped) throw err;
        this.retries++;
        this.unreachableAt = Date.now();
        if (attempt === 1 || attempt % 20 === 0)
          this.log(`queued ${c.what}: service unreachable, kept queued (${(err as Error).message})`);
        await new Promise((r) => setTimeout(r, wait).unref());
        wait = Math.min(this.o.retryMaxMs, wait * 2);
      }
    }
  }

  private slot(): Promise<void> {
    if (this.inFlight < this.o.maxInFlight) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((r) => this.slots.push(r));
  }

  private release(): void {
    const next = this.slots.shift();
    if (next) next();
    else this.inFlight--;
  }
}
