/**
 * The namespace mutations, each a pure function of (working copy, record). They validate
 * POSIX rules and throw `MetaError` before anything becomes visible (see Txn). Usage is
 * charged through `Txn.charge` following the rule in types.ts.
 */
import { Map as IMap } from "immutable";
import type { Attr, QuotaResponse, RenameResponse, UnlinkResponse } from "../api.js";
import { MetaError } from "../errors.js";
import { attrOf } from "./attr.js";
import { extentsEnd, overlay, truncateExtents } from "./extents.js";
import { contentFingerprint } from "./fingerprint.js";
import type { NsRecord } from "./records.js";
import { footprint, type Txn } from "./txn.js";
import { type Dirent, type Inode, tokenKey } from "./types.js";

type Rec<K extends NsRecord["op"]> = Extract<NsRecord, { op: K }>;

export const EMPTY_ENTRIES = IMap<string, Dirent>();
export const b64 = (s: string) => Buffer.from(s, "base64");
/** Sealed names are kept as latin1 strings: far smaller on the heap than one Buffer per entry. */
export const sealedOf = (s: string) => b64(s).toString("latin1");

/**
 * Adds or removes an entry of `dir`; its mtime and ctime become the record's time. `notBack`: a
 * time the client chose (a create that waited in its queue) does not move them back.
 */
export function setEntry(
  txn: Txn,
  dir: number,
  key: string,
  ent: Dirent | undefined,
  nlinkDelta = 0,
  notBack = false,
): void {
  const d = txn.get(dir);
  const entries = d.entries ?? EMPTY_ENTRIES;
  txn.put(dir, {
    ...d,
    entries: ent ? entries.set(key, ent) : entries.delete(key),
    nlink: d.nlink + nlinkDelta,
    mtime: notBack ? Math.max(d.mtime, txn.t) : txn.t,
    ctime: notBack ? Math.max(d.ctime, txn.t) : txn.t,
  });
}

export function entryOf(txn: Txn, dir: number, token: string): [string, Dirent | undefined] {
  const key = tokenKey(b64(token));
  return [key, txn.dir(dir).entries?.get(key)];
}

export function make(txn: Txn, r: Rec<"make">): Attr {
  const [key, existing] = entryOf(txn, r.parent, r.token);
  if (existing) throw new MetaError("EEXIST", "name exists");
  // A client-chosen number (from reserveInodes) may collide with a live inode; never overwrite one.
  if (txn.find(r.ino)) throw new MetaError("EINVAL", `ino: inode ${r.ino} is in use`);
  const isDir = r.type === "dir";
  const target = r.target === undefined ? undefined : b64(r.target);
  const node: Inode = {
    type: r.type,
    mode: r.mode & 0o7777,
    uid: r.uid,
    gid: r.gid,
    size: target ? target.length : 0,
    atime: r.t,
    mtime: r.t,
    ctime: r.t,
    nlink: isDir ? 2 : 1,
    generation: txn.version,
    rdev: r.rdev,
    parent: r.parent,
    ...(isDir ? { nameScope: r.ino, entries: EMPTY_ENTRIES, usageBytes: 0, usageFiles: 0 } : {}),
    ...(target ? { target } : {}),
  };
  txn.put(r.ino, node);
  setEntry(txn, r.parent, key, { ino: r.ino, sealed: sealedOf(r.sealed) }, isDir ? 1 : 0, true);
  txn.charge(r.parent, 0, 1);
  return attrOf(r.ino, node);
}

/** Returns the file's inode and whether it was created (non-exclusive create opens an existing file). */
export function create(txn: Txn, r: Rec<"create">): { ino: number; created: boolean } {
  const [, existing] = entryOf(txn, r.parent, r.token);
  if (existing) {
    if (r.exclusive) throw new MetaError("EEXIST", "name exists");
    const node = txn.get(existing.ino);
    if (node.type === "dir") throw new MetaError("EISDIR", "name is a directory");
    return { ino: existing.ino, created: false };
  }
  make(txn, { ...r, op: "make", type: "file", rdev: 0 });
  return { ino: r.ino, created: true };
}

export function link(txn: Txn, r: Rec<"link">): Attr {
  const node = txn.get(r.ino);
  if (node.type === "dir") throw new MetaError("EPERM", "cannot hard-link a directory");
  if (node.nlink === 0) throw new MetaError("ENOENT", "inode was unlinked");
  const [key, existing] = entryOf(txn, r.newParent, r.token);
  if (existing) throw new MetaError("EEXIST", "name exists");
  const next = txn.update(r.ino, {
    nlink: node.nlink + 1,
    extraParents: [...(node.extraParents ?? []), r.newParent],
    ctime: r.t,
  });
  setEntry(txn, r.newParent, key, { ino: r.ino, sealed: sealedOf(r.sealed) });
  return attrOf(r.ino, next);
}

/** Remove one link of `ino` that lived in `fromDir` (the entry itself is already gone). */
export function dropLink(txn: Txn, ino: number, fromDir: number, isOpen: (ino: number) => boolean): UnlinkResponse {
  const node = txn.get(ino);
  if (node.type === "dir") {
    txn.charge(fromDir, 0, -1);
    txn.update(fromDir, { nlink: txn.get(fromDir).nlink - 1 });
    txn.remove(ino);
    return { ino, nlink: 0, stillOpen: false };
  }
  const [bytes, files] = footprint(node);
  const extras = node.extraParents ?? [];
  let parent = node.parent;
  let rest: readonly number[] = extras;
  if (node.parent === fromDir) {
    txn.charge(fromDir, -bytes, -files);
    parent = extras[0] ?? 0;
    rest = extras.slice(1);
    txn.charge(parent, bytes, files);
  } else {
    const i = extras.indexOf(fromDir);
    rest = extras.filter((_, k) => k !== i);
  }
  const nlink = node.nlink - 1;
  if (nlink === 0 && !isOpen(ino)) {
    txn.remove(ino);
    return { ino, nlink: 0, stillOpen: false };
  }
  const next: Inode = { ...node, nlink, parent, ctime: txn.t };
  if (rest.length > 0) (next as { extraParents?: readonly number[] }).extraParents = rest;
  else delete (next as { extraParents?: readonly number[] }).extraParents;
  txn.put(ino, next);
  return { ino, nlink, stillOpen: nlink === 0 };
}

export function unlink(txn: Txn, r: Rec<"unlink">, isOpen: (ino: number) => boolean): UnlinkResponse {
  const [key, ent] = entryOf(txn, r.parent, r.token);
  if (!ent) throw new MetaError("ENOENT", "no such entry");
  const node = txn.get(ent.ino);
  if (r.dir) {
    if (node.type !== "dir") throw new MetaError("ENOTDIR", "not a directory");
    if ((node.entries?.size ?? 0) > 0) throw new MetaError("ENOTEMPTY", "directory not empty");
  } else if (node.type === "dir") throw new MetaError("EISDIR", "is a directory");
  setEntry(txn, r.parent, key, undefined);
  return dropLink(txn, ent.ino, r.parent, isOpen);
}

/** Re-home one link of `ino` from directory `from` to `to`, moving its usage charge. */
function moveLink(txn: Txn, ino: number, from: number, to: number): void {
  if (from === to) return;
  const node = txn.get(ino);
  if (node.type === "dir" || node.parent === from) {
    const [bytes, files] = footprint(node);
    txn.charge(from, -bytes, -files);
    txn.update(ino, { parent: to });
    txn.charge(to, bytes, files);
    if (node.type === "dir") {
      txn.update(from, { nlink: txn.get(from).nlink - 1 });
      txn.update(to, { nlink: txn.get(to).nlink + 1 });
    }
    return;
  }
  const extras = [...(node.extraParents ?? [])];
  extras[extras.indexOf(from)] = to;
  txn.update(ino, { extraParents: extras });
}

export function rename(txn: Txn, r: Rec<"rename">, isOpen: (ino: number) => boolean): RenameResponse {
  const [srcKey, src] = entryOf(txn, r.parent, r.token);
  if (!src) throw new MetaError("ENOENT", "no such source entry");
  const [dstKey, dst] = entryOf(txn, r.newParent, r.newToken);
  if (r.noReplace && r.exchange) throw new MetaError("EINVAL", "noReplace and exchange are exclusive");
  if (r.noReplace && dst) throw new MetaError("EEXIST", "target exists");
  if (r.exchange && !dst) throw new MetaError("ENOENT", "exchange target does not exist");
  const srcNode = txn.get(src.ino);
  if (srcNode.type === "dir" && txn.isAncestor(src.ino, r.newParent))
    throw new MetaError("EINVAL", "cannot move a directory into itself");
  // Same entry, or two links of one file: POSIX says do nothing.
  if (dst && dst.ino === src.ino) return {};
  const newSealed = sealedOf(r.newSealed);
  if (r.exchange && dst) {
    const dstNode = txn.get(dst.ino);
    if (dstNode.type === "dir" && txn.isAncestor(dst.ino, r.parent))
      throw new MetaError("EINVAL", "cannot move a directory into itself");
    setEntry(txn, r.parent, srcKey, { ino: dst.ino, sealed: src.sealed });
    setEntry(txn, r.newParent, dstKey, { ino: src.ino, sealed: dst.sealed });
    moveLink(txn, src.ino, r.parent, r.newParent);
    moveLink(txn, dst.ino, r.newParent, r.parent);
    txn.update(src.ino, { ctime: r.t });
    txn.update(dst.ino, { ctime: r.t });
    return {};
  }
  let replaced: number | undefined;
  if (dst) {
    const dstNode = txn.get(dst.ino);
    if (srcNode.type === "dir") {
      if (dstNode.type !== "dir") throw new MetaError("ENOTDIR", "target is not a directory");
      if ((dstNode.entries?.size ?? 0) > 0) throw new MetaError("ENOTEMPTY", "target directory not empty");
    } else if (dstNode.type === "dir") throw new MetaError("EISDIR", "target is a directory");
    setEntry(txn, r.newParent, dstKey, undefined);
    dropLink(txn, dst.ino, r.newParent, isOpen);
    replaced = dst.ino;
  }
  setEntry(txn, r.parent, srcKey, undefined);
  setEntry(txn, r.newParent, dstKey, { ino: src.ino, sealed: newSealed });
  moveLink(txn, src.ino, r.parent, r.newParent);
  txn.update(src.ino, { ctime: r.t });
  return replaced === undefined ? {} : { replaced };
}

function resize(txn: Txn, ino: number, node: Inode, size: number): Inode {
  if (node.type === "dir") throw new MetaError("EISDIR", "cannot truncate a directory");
  if (node.type !== "file") throw new MetaError("EINVAL", "only regular files have a size to set");
  if (node.parent !== 0) txn.charge(node.parent, size - node.size, 0);
  const extents = size < node.size ? truncateExtents(node.extents ?? [], size) : node.extents;
  const next: Inode = { ...node, size, mtime: txn.t, ctime: txn.t };
  if (extents && extents.length > 0) (next as { extents?: readonly unknown[] }).extents = extents;
  else delete (next as { extents?: unknown }).extents;
  txn.put(ino, next);
  return next;
}

export function setattr(txn: Txn, r: Rec<"setattr">): Attr {
  let node = txn.get(r.ino);
  if (r.size !== undefined) {
    if (node.type === "dir") throw new MetaError("EISDIR", "cannot truncate a directory");
    if (node.type !== "file") throw new MetaError("EINVAL", "only regular files have a size to set");
    if (r.size !== node.size) node = resize(txn, r.ino, node, r.size);
  }
  const next: Inode = {
    ...node,
    ...(r.mode !== undefined ? { mode: r.mode & 0o7777 } : {}),
    ...(r.uid !== undefined ? { uid: r.uid } : {}),
    ...(r.gid !== undefined ? { gid: r.gid } : {}),
    ...(r.atime !== undefined ? { atime: r.atime } : {}),
    ...(r.mtime !== undefined ? { mtime: r.mtime } : {}),
    ctime: r.t,
  };
  txn.put(r.ino, next);
  return attrOf(r.ino, next);
}

export function setxattr(txn: Txn, r: Rec<"setxattr">): void {
  const node = txn.get(r.ino);
  const key = tokenKey(b64(r.token));
  const xattrs = node.xattrs ?? IMap();
  const exists = xattrs.has(key);
  if (r.mode === "create" && exists) throw new MetaError("EEXIST", "xattr exists");
  if (r.mode === "replace" && !exists) throw new MetaError("ENODATA", "no such xattr");
  txn.put(r.ino, {
    ...node,
    xattrs: xattrs.set(key, { token: b64(r.token), sealed: b64(r.sealed), value: b64(r.value) }),
    ctime: r.t,
  });
}

export function removexattr(txn: Txn, r: Rec<"removexattr">): void {
  const node = txn.get(r.ino);
  const key = tokenKey(b64(r.token));
  if (!node.xattrs?.has(key)) throw new MetaError("ENODATA", "no such xattr");
  txn.put(r.ino, { ...node, xattrs: node.xattrs.delete(key), ctime: r.t });
}

export function truncateOnOpen(txn: Txn, ino: number): void {
  const node = txn.get(ino);
  if (node.type !== "file") throw new MetaError("EISDIR", "only regular files can be truncated on open");
  if (node.size !== 0 || node.extents) resize(txn, ino, node, 0);
}

export function commitWrite(txn: Txn, r: Rec<"commitWrite">): Attr {
  const node = txn.get(r.ino);
  if (node.type === "dir") throw new MetaError("EISDIR", "cannot write a directory");
  if (node.type !== "file") throw new MetaError("EINVAL", "only regular files hold extents");
  if (r.lockToken !== undefined && node.lockToken !== undefined && r.lockToken < node.lockToken)
    throw new MetaError("FENCED", `lock token ${r.lockToken} is older than ${node.lockToken}`);
  if (r.ifContent !== undefined && contentFingerprint(node.size, node.extents ?? []) !== r.ifContent)
    throw new MetaError("EBUSY", `inode ${r.ino} changed since its content was read (ifContent)`);
  let extents: readonly (typeof r.extents)[number][] = node.extents ?? [];
  for (const e of r.extents) extents = overlay(extents, e);
  const size = Math.max(node.size, r.newSize, extentsEnd(extents));
  if (node.parent !== 0) txn.charge(node.parent, size - node.size, 0);
  const next: Inode = {
    ...node,
    size,
    mtime: r.mtime,
    ctime: r.t,
    ...(extents.length > 0 ? { extents } : {}),
    ...(r.lockToken !== undefined ? { lockToken: Math.max(r.lockToken, node.lockToken ?? 0) } : {}),
  };
  txn.put(r.ino, next);
  return attrOf(r.ino, next);
}

export function setQuota(txn: Txn, r: Rec<"setQuota">): QuotaResponse {
  const node = txn.dir(r.ino);
  const next: Inode = { ...node, ctime: r.t };
  const mutable = next as { quotaBytes?: number; quotaFiles?: number };
  if (r.maxBytes === undefined) delete mutable.quotaBytes;
  else mutable.quotaBytes = r.maxBytes;
  if (r.maxFiles === undefined) delete mutable.quotaFiles;
  else mutable.quotaFiles = r.maxFiles;
  txn.put(r.ino, next);
  return quotaOf(next);
}

export function quotaOf(n: Inode): QuotaResponse {
  const q: QuotaResponse = { usedBytes: n.usageBytes ?? 0, usedFiles: n.usageFiles ?? 0 };
  if (n.quotaBytes !== undefined) q.maxBytes = n.quotaBytes;
  if (n.quotaFiles !== undefined) q.maxFiles = n.quotaFiles;
  return q;
}
