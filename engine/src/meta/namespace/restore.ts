import type { Attr } from "../api.js";
import { MetaError } from "../errors.js";
import { attrOf } from "./attr.js";
import { dropLink, EMPTY_ENTRIES, entryOf, sealedOf, setEntry } from "./ops.js";
import type { NsRecord } from "./records.js";
import { footprint, type Txn } from "./txn.js";
import type { Inode, Tree } from "./types.js";

type Rec = Extract<NsRecord, { op: "restore" }>;

/**
 * Copy a file or directory tree out of a snapshot into the live tree: new inode numbers
 * (from `firstIno`, in sorted traversal order so replay is exact), the same extents (chunks
 * are shared, nothing is copied), directories keep their name scope so entry tokens stay valid.
 * Returns the new root's attributes and the next free inode number.
 */
export function restore(
  txn: Txn,
  r: Rec,
  snap: Tree,
  isOpen: (ino: number) => boolean,
): { attr: Attr; nextIno: number } {
  const source = snap.inodes.get(r.ino);
  if (!source || source.nlink === 0) throw new MetaError("ENOENT", `no inode ${r.ino} in snapshot ${r.snapshot}`);
  const [key, existing] = entryOf(txn, r.parent, r.token);
  if (existing) {
    if (!r.replace) throw new MetaError("EEXIST", "restore target exists");
    const target = txn.get(existing.ino);
    if ((target.type === "dir") !== (source.type === "dir"))
      throw new MetaError(source.type === "dir" ? "ENOTDIR" : "EISDIR", "restore target is of another kind");
    if ((target.entries?.size ?? 0) > 0) throw new MetaError("ENOTEMPTY", "restore target directory not empty");
    setEntry(txn, r.parent, key, undefined);
    dropLink(txn, existing.ino, r.parent, isOpen);
  }
  let next = r.firstIno;
  const copied = new Map<number, number>();
  const copy = (oldIno: number, node: Inode, newParent: number): number => {
    const seen = copied.get(oldIno);
    if (seen !== undefined) {
      const n = txn.get(seen);
      txn.put(seen, { ...n, nlink: n.nlink + 1, extraParents: [...(n.extraParents ?? []), newParent] });
      return seen;
    }
    const ino = next++;
    copied.set(oldIno, ino);
    const fresh: Inode =
      node.type === "dir"
        ? { ...node, parent: newParent, nlink: 2, entries: EMPTY_ENTRIES, usageBytes: 0, usageFiles: 0 }
        : { ...node, parent: newParent, nlink: 1 };
    delete (fresh as { extraParents?: unknown }).extraParents;
    delete (fresh as { lockToken?: unknown }).lockToken;
    txn.put(ino, fresh);
    const [bytes] = footprint(fresh);
    txn.charge(newParent, bytes, 1);
    return ino;
  };
  const rootIno = copy(r.ino, source, r.parent);
  setEntry(txn, r.parent, key, { ino: rootIno, sealed: sealedOf(r.sealed) }, source.type === "dir" ? 1 : 0);
  const queue: Array<[number, number]> = source.type === "dir" ? [[r.ino, rootIno]] : [];
  while (queue.length > 0) {
    const [oldDir, newDir] = queue.shift()!;
    const entries = snap.inodes.get(oldDir)!.entries ?? EMPTY_ENTRIES;
    for (const k of [...entries.keys()].sort()) {
      const ent = entries.get(k)!;
      const child = snap.inodes.get(ent.ino)!;
      const fresh = !copied.has(ent.ino);
      const ino = copy(ent.ino, child, newDir);
      setEntry(txn, newDir, k, { ino, sealed: ent.sealed }, child.type === "dir" ? 1 : 0);
      if (fresh && child.type === "dir") queue.push([ent.ino, ino]);
    }
  }
  // setEntry stamped copied directories with "now"; a restore keeps the snapshot's times.
  for (const [oldIno, ino] of copied) {
    const old = snap.inodes.get(oldIno)!;
    if (old.type === "dir") txn.update(ino, { mtime: old.mtime, ctime: old.ctime });
  }
  return { attr: attrOf(rootIno, txn.get(rootIno)), nextIno: next };
}
