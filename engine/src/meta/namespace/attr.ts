import type { Attr } from "../api.js";
import type { Inode } from "./types.js";

/** Client-facing attributes of an inode (real inode numbers; the service maps subtree roots). */
export function attrOf(ino: number, n: Inode): Attr {
  const attr: Attr = {
    ino,
    type: n.type,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    size: n.type === "dir" ? (n.entries?.size ?? 0) : n.size,
    atime: n.atime,
    mtime: n.mtime,
    ctime: n.ctime,
    nlink: n.nlink,
    generation: n.generation,
    rdev: n.rdev,
    hasXattrs: (n.xattrs?.size ?? 0) > 0,
  };
  if (n.nameScope !== undefined) attr.nameScope = n.nameScope;
  return attr;
}
