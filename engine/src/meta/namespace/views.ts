/**
 * Read operations against one tree (live or a snapshot's). Pure functions of the tree; the
 * service decides which tree and maps inode numbers for subtree-confined tokens.
 */
import type { Attr, GetExtentsResponse, SealedName, UsageResponse } from "../api.js";
import { MetaError } from "../errors.js";
import { attrOf } from "./attr.js";
import { extentsInRange } from "./extents.js";
import { type Dirent, type Inode, keyToken, type Tree, tokenKey } from "./types.js";

export function node(tree: Tree, ino: number): Inode {
  const n = tree.inodes.get(ino);
  if (!n) throw new MetaError("ENOENT", `no inode ${ino}`);
  return n;
}

export function dirNode(tree: Tree, ino: number): Inode {
  const n = node(tree, ino);
  if (n.type !== "dir") throw new MetaError("ENOTDIR", `inode ${ino} is not a directory`);
  return n;
}

export function lookup(tree: Tree, parent: number, token: Buffer): [number, Inode] {
  const ent = dirNode(tree, parent).entries?.get(tokenKey(token));
  if (!ent) throw new MetaError("ENOENT", "no such entry");
  return [ent.ino, node(tree, ent.ino)];
}

// Sorted entry keys per directory map; a persistent map never changes, so identity is a safe cache key.
const sortedKeys = new WeakMap<object, string[]>();

function keysOf(n: Inode): string[] {
  const entries = n.entries!;
  let keys = sortedKeys.get(entries);
  if (!keys) {
    keys = [...entries.keys()].sort();
    sortedKeys.set(entries, keys);
  }
  return keys;
}

/** Wire bytes of one readdirplus entry besides its sealed name (token, attr, framing), rounded up. */
const ENTRY_OVERHEAD_BYTES = 160;

/**
 * One page of entries in token order after `cookie` (hex token of the last entry returned):
 * at most `limit` entries and about `maxBytes` of response (always at least one entry).
 */
export function readdir(
  tree: Tree,
  ino: number,
  cookie: string | undefined,
  limit: number,
  maxBytes = Number.POSITIVE_INFINITY,
): { entries: Array<[string, Dirent, Inode]>; cookie?: string } {
  const dir = dirNode(tree, ino);
  if (!dir.entries || dir.entries.size === 0) return { entries: [] };
  const keys = keysOf(dir);
  let i = 0;
  if (cookie !== undefined) {
    const after = tokenKey(Buffer.from(cookie, "hex"));
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! <= after) lo = mid + 1;
      else hi = mid;
    }
    i = lo;
  }
  const out: Array<[string, Dirent, Inode]> = [];
  let bytes = 0;
  for (; i < keys.length && out.length < limit; i++) {
    const key = keys[i]!;
    const ent = dir.entries.get(key)!;
    bytes += ENTRY_OVERHEAD_BYTES + ent.sealed.length;
    if (bytes > maxBytes && out.length > 0) break;
    out.push([key, ent, node(tree, ent.ino)]);
  }
  if (i >= keys.length) return { entries: out };
  return { entries: out, cookie: keyToken(out[out.length - 1]![0]).toString("hex") };
}

export function readlink(tree: Tree, ino: number): Buffer {
  const n = node(tree, ino);
  if (n.type !== "symlink" || !n.target) throw new MetaError("EINVAL", `inode ${ino} is not a symlink`);
  return n.target;
}

export function extents(tree: Tree, ino: number, offset?: number, length?: number): GetExtentsResponse {
  const n = node(tree, ino);
  if (n.type === "dir") throw new MetaError("EISDIR", `inode ${ino} is a directory`);
  const list = n.extents ?? [];
  const picked =
    offset === undefined
      ? list.map((e) => ({ ...e }))
      : extentsInRange(list, offset, length ?? Number.MAX_SAFE_INTEGER);
  return { size: n.size, generation: n.generation, extents: picked };
}

export function getxattr(tree: Tree, ino: number, token: Buffer): Buffer {
  const x = node(tree, ino).xattrs?.get(tokenKey(token));
  if (!x) throw new MetaError("ENODATA", "no such xattr");
  return x.value;
}

export function listxattr(tree: Tree, ino: number): SealedName[] {
  const xs = node(tree, ino).xattrs;
  if (!xs) return [];
  return [...xs.keys()].sort().map((k) => {
    const x = xs.get(k)!;
    return { token: x.token, sealed: x.sealed };
  });
}

export function usage(tree: Tree, ino: number): UsageResponse {
  const n = node(tree, ino);
  if (n.type !== "dir") {
    return { bytes: n.type === "file" ? n.size : 0, files: 0 };
  }
  return { bytes: n.usageBytes ?? 0, files: n.usageFiles ?? 0 };
}

export function attr(tree: Tree, ino: number): Attr {
  return attrOf(ino, node(tree, ino));
}

/** Is `ino` inside the subtree rooted at `root` (any of its links, for files)? */
export function within(tree: Tree, ino: number, root: number): boolean {
  if (ino === root) return true;
  const n = tree.inodes.get(ino);
  if (!n) return false;
  // Unlinked-but-open inodes are reachable only through handles their holders already have.
  if (n.type !== "dir" && n.nlink === 0) return true;
  const parents = n.type === "dir" ? [n.parent] : [n.parent, ...(n.extraParents ?? [])];
  for (const p of parents) {
    for (let d = p; d !== 0; d = tree.inodes.get(d)?.parent ?? 0) if (d === root) return true;
  }
  return false;
}
