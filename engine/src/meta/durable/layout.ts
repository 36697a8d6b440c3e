/**
 * Object-store layout of the metadata service (relative to the filespace prefix):
 *
 *   meta/lease                      who serves the filespace, its epoch, last renewal
 *   meta/journal/<seq>              group-committed segments, one global dense sequence
 *   meta/checkpoints/<version>      full images at a version
 *
 * Numbers are zero-padded to 16 digits so that lexicographic listing is numeric order.
 * Segment keys carry no epoch (unlike the first sketch in ARCHITECTURE.md): every epoch
 * writes into the *same* sequence with create-only puts, which is what fences a zombie —
 * its next segment key is already taken. The epoch lives inside the sealed segment.
 * Every object is sealed with the service's at-rest key, the object key as associated data.
 */
import type { AtRestCipher } from "../../crypto/atrest.js";
import type { ObjectStore, PutOptions, PutResult } from "../../object/types.js";

const DIGITS = 16;

export const LEASE_KEY = "meta/lease";
export const JOURNAL_PREFIX = "meta/journal/";
export const CHECKPOINT_PREFIX = "meta/checkpoints/";

export const pad = (n: number): string => String(n).padStart(DIGITS, "0");

export const segmentKey = (seq: number): string => `${JOURNAL_PREFIX}${pad(seq)}`;
export const checkpointKey = (version: number): string => `${CHECKPOINT_PREFIX}${pad(version)}`;

/** Parse the number at the end of a journal/checkpoint key; undefined for foreign keys. */
export function numberFromKey(key: string, prefix: string): number | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const tail = key.slice(prefix.length);
  if (!/^\d{16}$/.test(tail)) return undefined;
  return Number(tail);
}

/** A store plus the filespace prefix and the at-rest cipher: what every durable module needs. */
export interface SealedStore {
  store: ObjectStore;
  cipher: AtRestCipher;
  /** Filespace prefix inside the store ("" or ending in "/"). */
  prefix: string;
}

export const fullKey = (s: SealedStore, key: string): string => `${s.prefix}${key}`;

export async function putSealed(s: SealedStore, key: string, body: Buffer, options?: PutOptions): Promise<PutResult> {
  const k = fullKey(s, key);
  return s.store.put(k, s.cipher.seal(body, Buffer.from(k)), options);
}

export function openSealed(s: SealedStore, key: string, sealed: Buffer): Buffer {
  const k = fullKey(s, key);
  return s.cipher.open(sealed, Buffer.from(k));
}

export async function getSealed(s: SealedStore, key: string): Promise<Buffer> {
  return openSealed(s, key, await s.store.get(fullKey(s, key)));
}

/** All keys (relative to the prefix) under `sub` with their etags, in order. */
export async function listAll(s: SealedStore, sub: string): Promise<{ key: string; etag: string; size: number }[]> {
  const out: { key: string; etag: string; size: number }[] = [];
  let cursor: string | undefined;
  do {
    const page = await s.store.list(fullKey(s, sub), cursor ? { cursor } : {});
    for (const o of page.objects) out.push({ key: o.key.slice(s.prefix.length), etag: o.etag, size: o.size });
    cursor = page.cursor;
  } while (cursor);
  return out;
}
