/**
 * The single-service lease (`meta/lease`): who serves the filespace, since when, in which epoch.
 *
 * - Start: a fresh lease held by someone else → refuse (ServiceAlreadyRunningError naming the
 *   holder). An expired one (crashed holder) is taken only with `takeover`. A released one
 *   (clean shutdown) is simply taken. Taking the lease bumps the epoch.
 * - Freshness is judged by wall clock: `renewedAt + ttl < now` means expired. Hosts whose clocks
 *   differ by more than the ttl can misjudge; the journal's create-only fencing (below the lease)
 *   still protects the data where the store supports conditional put.
 * - Conditional-put stores: every lease write is `ifMatch` the etag we last saw (or create-only),
 *   so two starters cannot both win and a renewal fails if anyone else wrote it.
 * - Stores without conditional put: write, wait `settleMs`, read back; best effort only — two
 *   starters within the same settle window could both believe they won. `verify()` (read and
 *   compare) is what the journal calls before acknowledging on such stores.
 */

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { IntegrityError } from "../../crypto/errors.js";
import { ObjectNotFoundError, ObjectPreconditionFailedError } from "../../object/errors.js";
import { FencedError, type LeaseHolder, ServiceAlreadyRunningError } from "./errors.js";
import { fullKey, getSealed, LEASE_KEY, putSealed, type SealedStore } from "./layout.js";
import { leaseRecordSchema, parseStored } from "./schemas.js";

export interface LeaseRecord {
  holder: LeaseHolder;
  epoch: number;
  /** ms since 1970 of the last renewal. */
  renewedAt: number;
  ttlMs: number;
  released: boolean;
}

export interface LeaseOptions {
  /** A holder that has not renewed for this long is presumed dead. Default 30 s. */
  ttlMs?: number;
  /** Renewal period. Default ttl / 3. */
  renewEveryMs?: number;
  /** Take over an *expired* lease (a crashed holder). A fresh lease is never taken. */
  takeover?: boolean;
  /** Clock (injectable for tests). */
  now?: () => number;
  /** Read-back delay on stores without conditional put. Default 200 ms. */
  settleMs?: number;
}

export class Lease {
  #record: LeaseRecord;
  #etag: string;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<unknown> = Promise.resolve();
  #renewing = false;
  readonly #s: SealedStore;
  readonly #now: () => number;
  readonly #renewEveryMs: number;

  private constructor(s: SealedStore, record: LeaseRecord, etag: string, now: () => number, renewEveryMs: number) {
    this.#s = s;
    this.#record = record;
    this.#etag = etag;
    this.#now = now;
    this.#renewEveryMs = renewEveryMs;
  }

  get epoch(): number {
    return this.#record.epoch;
  }
  get holder(): LeaseHolder {
    return this.#record.holder;
  }

  static async read(s: SealedStore): Promise<{ record: LeaseRecord; etag: string } | undefined> {
    try {
      const { etag } = await s.store.head(fullKey(s, LEASE_KEY));
      const record = parseStored(leaseRecordSchema, "metadata lease", await getSealed(s, LEASE_KEY));
      return { record, etag };
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    }
  }

  /** `read`, retried a few times over a torn object (another writer's put caught mid-way). */
  static async readSettled(s: SealedStore): Promise<{ record: LeaseRecord; etag: string } | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await Lease.read(s);
      } catch (err) {
        if (!(err instanceof IntegrityError) || attempt >= 4) throw err;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  static async acquire(s: SealedStore, options: LeaseOptions = {}): Promise<Lease> {
    const now = options.now ?? Date.now;
    const ttlMs = options.ttlMs ?? 30_000;
    const conditional = s.store.capabilities.conditionalPut;
    const current = await Lease.read(s);
    if (current && !current.record.released) {
      const expired = current.record.renewedAt + current.record.ttlMs < now();
      if (!expired || !options.takeover) throw new ServiceAlreadyRunningError(current.record.holder, expired);
    }
    const record: LeaseRecord = {
      holder: { host: hostname(), pid: process.pid, instanceId: randomUUID(), since: new Date(now()).toISOString() },
      epoch: (current?.record.epoch ?? 0) + 1,
      renewedAt: now(),
      ttlMs,
      released: false,
    };
    const body = Buffer.from(JSON.stringify(record));
    let etag: string;
    try {
      const put = await putSealed(
        s,
        LEASE_KEY,
        body,
        conditional ? (current ? { ifMatch: current.etag } : { ifNoneMatch: "*" }) : {},
      );
      etag = put.etag;
    } catch (err) {
      if (!(err instanceof ObjectPreconditionFailedError)) throw err;
      // Someone else started at the same moment and won.
      const winner = await Lease.read(s);
      throw new ServiceAlreadyRunningError(winner?.record.holder ?? record.holder, false);
    }
    if (!conditional) {
      await new Promise((r) => setTimeout(r, options.settleMs ?? 200));
      const back = await Lease.read(s);
      if (back?.record.holder.instanceId !== record.holder.instanceId) {
        throw new ServiceAlreadyRunningError(back?.record.holder ?? record.holder, false);
      }
      etag = back.etag;
    }
    return new Lease(s, record, etag, now, options.renewEveryMs ?? Math.max(1, Math.floor(ttlMs / 3)));
  }

  /**
   * Throw FencedError unless the stored lease is still ours (same instance, same epoch). Waits
   * for our own lease write in flight first: on a store whose puts are not atomic (s3rver
   * rewrites the object file in place) a read racing that put sees a torn object, which failed
   * the journal ("sealed metadata object is truncated") under heavy commit load.
   */
  async verify(): Promise<void> {
    await this.#writing;
    return this.#verifyNow();
  }

  async #verifyNow(): Promise<void> {
    const current = await Lease.readSettled(this.#s);
    const mine = current?.record;
    if (!mine || mine.released || mine.holder.instanceId !== this.#record.holder.instanceId) {
      const by = mine ? `${mine.holder.host} pid ${mine.holder.pid} (epoch ${mine.epoch})` : "nobody (deleted)";
      throw new FencedError(`metadata lease was taken over by ${by}`);
    }
  }

  /** Lease writes are serialised: two in flight with the same `ifMatch` would fence ourselves. */
  #write(change: Partial<LeaseRecord>): Promise<void> {
    const run = this.#writing.then(() => this.#writeNow(change));
    this.#writing = run.catch(() => undefined);
    return run;
  }

  /** Rewrite the lease (renewal, epoch change, release); FencedError if anyone else wrote it since. */
  async #writeNow(change: Partial<LeaseRecord>, retried = false): Promise<void> {
    const next = { ...this.#record, ...change, renewedAt: this.#now() };
    const conditional = this.#s.store.capabilities.conditionalPut;
    if (!conditional) await this.#verifyNow();
    try {
      const put = await putSealed(
        this.#s,
        LEASE_KEY,
        Buffer.from(JSON.stringify(next)),
        conditional ? { ifMatch: this.#etag } : {},
      );
      this.#etag = put.etag;
      this.#record = next;
    } catch (err) {
      if (err instanceof ObjectPreconditionFailedError) {
        // Our own earlier write may have landed with its reply lost: then the lease is still ours.
        const current = await Lease.readSettled(this.#s);
        if (!retried && current?.record.holder.instanceId === this.#record.holder.instanceId) {
          this.#etag = current.etag;
          return this.#writeNow(change, true);
        }
        throw new FencedError("metadata lease was rewritten by another instance", { cause: err });
      }
      throw err;
    }
  }

  renew(): Promise<void> {
    return this.#write({});
  }

  setEpoch(epoch: number): Promise<void> {
    return this.#write({ epoch });
  }

  /**
   * Renew periodically. `onLost` is called once with a FencedError if the lease was taken;
   * transient store errors are retried at the next period (`onError` sees them).
   */
  startRenewing(onLost: (err: FencedError) => void, onError?: (err: unknown) => void): void {
    this.stopRenewing();
    this.#timer = setInterval(() => {
      if (this.#renewing) return; // a slow store: never queue renewals behind each other
      this.#renewing = true;
      this.renew()
        .catch((err) => {
          if (err instanceof FencedError) {
            this.stopRenewing();
            onLost(err);
          } else onError?.(err);
        })
        .finally(() => {
          this.#renewing = false;
        });
    }, this.#renewEveryMs);
    this.#timer.unref();
  }

  stopRenewing(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Clean shutdown: mark released (keeping the epoch counter) so the next start needs no takeover. */
  async release(): Promise<void> {
    this.stopRenewing();
    await this.#write({ released: true });
  }
}
