/**
 * Namespace changes of MemoryVfs that add, drop or move names of existing inodes, with the POSIX
 * rules the FUSE test suite checks: hard links share the inode (never to a directory), rename
 * replaces (same kind only, empty directories only), RENAME_NOREPLACE refuses an existing
 * target, RENAME_EXCHANGE swaps two names, and renaming onto another name of the same inode does
 * nothing. Directory link counts follow their subdirectories' `..`.
 */
import { FsError } from "./errors.js";
import { isDir, type MemoryNode, type NodeStore } from "./memory-nodes.js";
import { RENAME_EXCHANGE, RENAME_NOREPLACE } from "./types.js";

/** Gives inode `ino` the new name `newName` in `newParent`. */
export function linkNode(store: NodeStore, ino: number, newParent: number, newName: string): MemoryNode {
  store.checkName(newName);
  const n = store.node(ino);
  if (isDir(n)) throw new FsError("EPERM", "hard link to a directory");
  const p = store.dir(newParent);
  if (p.entries.has(newName)) throw new FsError("EEXIST", newName);
  store.insert(p, newName, n);
  n.nlink++;
  n.ctimeMs = Date.now();
  return n;
}

export function unlinkName(store: NodeStore, parent: number, name: string): void {
  const p = store.dir(parent);
  const e = p.entries.get(name);
  if (!e) throw new FsError("ENOENT", name);
  const n = store.node(e.ino);
  if (isDir(n)) throw new FsError("EISDIR", name);
  p.entries.delete(name);
  p.mtimeMs = p.ctimeMs = Date.now();
  store.dropLink(n);
}

export function removeDir(store: NodeStore, parent: number, name: string): void {
  const p = store.dir(parent);
  const e = p.entries.get(name);
  if (!e) throw new FsError("ENOENT", name);
  const n = store.dir(e.ino);
  if (n.entries.size > 0) throw new FsError("ENOTEMPTY", name);
  p.entries.delete(name);
  p.nlink--;
  p.mtimeMs = p.ctimeMs = Date.now();
  store.dropLink(n);
}

export function renameEntry(
  store: NodeStore,
  parent: number,
  name: string,
  newParent: number,
  newName: string,
  flags: number,
): void {
  store.checkName(newName);
  const from = store.dir(parent);
  const to = store.dir(newParent);
  const src = from.entries.get(name);
  if (!src) throw new FsError("ENOENT", name);
  const srcNode = store.node(src.ino);
  const dst = to.entries.get(newName);
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw new FsError("EINVAL", "rename flags");
  if (flags & RENAME_NOREPLACE && dst) throw new FsError("EEXIST", newName);
  const now = Date.now();
  if (flags & RENAME_EXCHANGE) {
    if (!dst) throw new FsError("ENOENT", newName);
    const dstNode = store.node(dst.ino);
    from.entries.set(name, { ino: dst.ino, cookie: src.cookie });
    to.entries.set(newName, { ino: src.ino, cookie: dst.cookie });
    reparent(srcNode, from, to);
    reparent(dstNode, to, from);
    from.mtimeMs = to.mtimeMs = srcNode.ctimeMs = dstNode.ctimeMs = now;
    return;
  }
  if (dst) {
    if (dst.ino === src.ino) return; // two names of one inode: POSIX says do nothing
    const dstNode = store.node(dst.ino);
    if (isDir(srcNode) && !isDir(dstNode)) throw new FsError("ENOTDIR", newName);
    if (!isDir(srcNode) && isDir(dstNode)) throw new FsError("EISDIR", newName);
    if (dstNode.entries && dstNode.entries.size > 0) throw new FsError("ENOTEMPTY", newName);
    to.entries.delete(newName);
    if (isDir(dstNode)) to.nlink--;
    store.dropLink(dstNode);
  }
  from.entries.delete(name);
  store.insert(to, newName, srcNode);
  reparent(srcNode, from, to);
  from.mtimeMs = from.ctimeMs = srcNode.ctimeMs = now;
}

/** A directory moved from `from` to `to`: its `..` counts as a link of its new parent. */
function reparent(n: MemoryNode, from: MemoryNode, to: MemoryNode): void {
  if (!isDir(n) || from === to) return;
  n.parent = to.ino;
  from.nlink--;
  to.nlink++;
}
