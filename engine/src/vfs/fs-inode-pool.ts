/**
 * Inode numbers this mount may give new files without asking the service: blocks handed out by
 * `reserveInodes` (journaled by the service, never handed out twice). `take` is synchronous; a
 * refill starts in the background when fewer than `lowWater` numbers are left, so a steady stream
 * of creates never waits on it. Numbers left at unmount are simply never used (the service
 * skips them; an inode number is cheap).
 */
import { randomUUID } from "node:crypto";

export interface InodePoolOptions {
  /** Numbers asked for per reservation (1–10,000). */
  block: number;
  /** Start a refill when fewer are left. */
  lowWater: number;
}

export class InodePool {
  private readonly ranges: Array<{ next: number; end: number }> = [];
  private left = 0;
  private refilling: Promise<void> | undefined;
  /** No background refill before then (a failed reservation backs off instead of costing every create a call). */
  private quietUntil = 0;

  constructor(
    private readonly reserve: (count: number, requestId: string) => Promise<{ first: number; count: number }>,
    private readonly o: InodePoolOptions = { block: 2000, lowWater: 1000 },
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** A reserved number, or undefined when none is at hand (a refill is then under way). */
  take(): number | undefined {
    const r = this.ranges[0];
    let ino: number | undefined;
    if (r) {
      ino = r.next++;
      this.left--;
      if (r.next >= r.end) this.ranges.shift();
    }
    if (this.left < this.o.lowWater && Date.now() >= this.quietUntil) void this.refill().catch(() => undefined);
    return ino;
  }

  /** A reserved number, waiting for a reservation when none is at hand. Throws when reserving fails. */
  async next(): Promise<number> {
    for (;;) {
      const ino = this.take();
      if (ino !== undefined) return ino;
      await this.refill();
    }
  }

  available(): number {
    return this.left;
  }

  refill(): Promise<void> {
    this.refilling ??= (async () => {
      try {
        const got = await this.reserve(this.o.block, randomUUID());
        if (got.count > 0) {
          this.ranges.push({ next: got.first, end: got.first + got.count });
          this.left += got.count;
        }
      } catch (err) {
        this.quietUntil = Date.now() + 5000;
        this.log(`reserving inode numbers failed (creates ask the service meanwhile): ${(err as Error).message}`);
        throw err;
      } finally {
        this.refilling = undefined;
      }
    })();
    return this.refilling;
  }
}
