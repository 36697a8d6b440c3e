import { randomBytes } from "node:crypto";
import { AtRestCipher } from "../../../src/crypto/atrest.js";
import { type DurableMeta, type DurableMetaOptions, openDurableMeta } from "../../../src/meta/durable/index.js";
import { KvMachine, type KvRecord } from "./kv-machine.js";
import type { TestStore } from "./test-store.js";

export const cipher = new AtRestCipher(randomBytes(32));

/** A manual clock shared by the instances of one test (lease freshness). */
export class Clock {
  t = Date.now();
  now = () => this.t;
  /** Let every lease expire. */
  passLeaseTtl(ttlMs = 30_000): void {
    this.t += ttlMs + 1;
  }
}

export type Kv = DurableMeta<KvMachine, KvRecord>;

export function openKv(
  store: TestStore,
  extra: Partial<DurableMetaOptions<KvMachine>> & { clock?: Clock; takeover?: boolean } = {},
): Promise<Kv> {
  const { clock, takeover, lease, ...rest } = extra;
  return openDurableMeta<KvRecord, KvMachine>({
    store,
    cipher,
    restore: KvMachine.restore,
    checkpointIntervalMs: 0,
    ...rest,
    lease: { settleMs: 5, ...(clock ? { now: clock.now } : {}), ...(takeover ? { takeover } : {}), ...lease },
  });
}

/** Apply in memory, then journal; resolves when acknowledged. */
export function mutate(kv: Kv, record: KvRecord): Promise<void> {
  return kv.journal.append(kv.machine.apply(record));
}
