/**
 * Directory walks for the file backend: keys in flat-key (UTF-8 byte) order with prefix and
 * cursor pruning, and the sweep of temp files left by crashed writers.
 */
import type { Dirent } from "node:fs";
import { readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { compareKeys, RESERVED_SEGMENT_PREFIX, throwIfAborted } from "./keys.js";

export interface KeyWalk {
  root: string;
  prefix: string;
  /** Only keys sorting strictly after this one. */
  after: string | undefined;
  signal: AbortSignal | undefined;
  /** Called for each candidate key in order; return false to stop the walk. */
  visit: (key: string) => Promise<boolean>;
}

/** Walks from `dirKey` ('' or ending in '/'); resolves false if a visit stopped the walk. */
export async function walkKeysInOrder(walk: KeyWalk, dirKey: string): Promise<boolean> {
  let entries: Dirent[];
  try {
    entries = await readdir(join(walk.root, dirKey), { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === "ENOENT" || code === "ENOTDIR") return true;
    throw err;
  }
  // Directories sort as "name/" so "a/x" comes after "a-b", exactly like flat key order.
  const items = entries
    .filter((e) => !e.name.startsWith(RESERVED_SEGMENT_PREFIX) && (e.isFile() || e.isDirectory()))
    .map((e) => ({ key: `${dirKey}${e.name}${e.isDirectory() ? "/" : ""}`, dir: e.isDirectory() }))
    .sort((a, b) => compareKeys(a.key, b.key));
  const { prefix, after } = walk;
  for (const item of items) {
    throwIfAborted(walk.signal);
    if (item.dir) {
      if (!item.key.startsWith(prefix) && !prefix.startsWith(item.key)) continue;
      // Every key below item.key sorts before `after` unless `after` lies inside it.
      if (after !== undefined && compareKeys(item.key, after) < 0 && !after.startsWith(item.key)) continue;
      if (!(await walkKeysInOrder(walk, item.key))) return false;
    } else {
      if (!item.key.startsWith(prefix)) continue;
      if (after !== undefined && compareKeys(item.key, after) <= 0) continue;
      if (!(await walk.visit(item.key))) return false;
    }
  }
  return true;
}

/** Removes `.fs-tmp-*` files under `dir` older than `cutoffMs` (epoch ms); returns the count. */
export async function sweepTempFiles(dir: string, cutoffMs: number, signal?: AbortSignal): Promise<number> {
  let removed = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    throwIfAborted(signal);
    const path = join(dir, entry.name);
    if (entry.isDirectory()) removed += await sweepTempFiles(path, cutoffMs, signal);
    else if (entry.name.startsWith(RESERVED_SEGMENT_PREFIX)) {
      const st = await stat(path).catch(() => undefined);
      if (
        st &&
        st.mtimeMs < cutoffMs &&
        (await unlink(path).then(
          () => true,
          () => false,
        ))
      )
        removed++;
    }
  }
  return removed;
}
