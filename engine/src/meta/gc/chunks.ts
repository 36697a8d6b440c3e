/**
 * Listing the chunk objects of a filespace (`chunks/<first 2 chars of id>/<id>`), shared by GC
 * and fsck. Keys that do not follow the layout (temp files, foreign objects) are reported apart
 * and never deleted.
 */
import type { ObjectInfo, ObjectStore } from "../../object/types.js";

export const CHUNKS_PREFIX = "chunks/";

export interface ListedChunk {
  id: string;
  key: string;
  size: number;
  lastModified: Date;
}

/** The chunk id a key names, or undefined if the key does not follow the layout. */
export function chunkIdOfKey(key: string, prefix = ""): string | undefined {
  if (!key.startsWith(`${prefix}${CHUNKS_PREFIX}`)) return undefined;
  const parts = key.slice(prefix.length + CHUNKS_PREFIX.length).split("/");
  if (parts.length !== 2) return undefined;
  const [shard, id] = parts as [string, string];
  return id.length >= 2 && id.slice(0, 2) === shard ? id : undefined;
}

/** Every object under `chunks/`, split into well-formed chunks and foreign keys. */
export async function listChunks(
  store: ObjectStore,
  options: { prefix?: string; signal?: AbortSignal } = {},
): Promise<{ chunks: ListedChunk[]; foreign: ObjectInfo[] }> {
  const prefix = options.prefix ?? "";
  const chunks: ListedChunk[] = [];
  const foreign: ObjectInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(`${prefix}${CHUNKS_PREFIX}`, {
      ...(cursor ? { cursor } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    for (const o of page.objects) {
      const id = chunkIdOfKey(o.key, prefix);
      if (id === undefined) foreign.push(o);
      else chunks.push({ id, key: o.key, size: o.size, lastModified: o.lastModified });
    }
    cursor = page.cursor;
  } while (cursor);
  return { chunks, foreign };
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function forEachLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
