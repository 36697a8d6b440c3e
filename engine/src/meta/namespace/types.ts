/**
 * The namespace's in-memory model. A `Tree` is a persistent (immutable) map from inode
 * number to frozen `Inode` objects; every change produces a new Tree that shares all
 * untouched structure with the old one, so a snapshot is just a reference to a Tree.
 *
 * Usage accounting rule (hard links): a non-directory inode is charged — its size and one
 * file — to exactly one directory chain, that of its *primary* link (`parent`). Other
 * links are remembered in `extraParents`; when the primary link goes away (unlink/rename)
 * the charge moves to the next remaining link. Unlinked-but-open inodes (nlink 0) are
 * charged nowhere. Directories are charged (one file, no bytes) to their parent chain.
 */
import type { Map as IMap } from "immutable";
import type { Extent, FileType } from "../api.js";

/** A directory entry; its token is the map key. */
export interface Dirent {
  readonly ino: number;
  /** The sealed name as a latin1 string (one string is much lighter than a Buffer per entry). */
  readonly sealed: string;
}

export interface Xattr {
  readonly token: Buffer;
  readonly sealed: Buffer;
  readonly value: Buffer;
}

export interface Inode {
  readonly type: FileType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly atime: number;
  readonly mtime: number;
  readonly ctime: number;
  readonly nlink: number;
  readonly generation: number;
  readonly rdev: number;
  /** Directories: the parent directory (0 for the root). Others: primary link's directory (0 if unlinked). */
  readonly parent: number;
  /** Non-directories with several links: the directories of the other links (a multiset). */
  readonly extraParents?: readonly number[];
  /** Directories: scope clients key entry tokens with. */
  readonly nameScope?: number;
  /** Directories: entries by token key (see `tokenKey`). */
  readonly entries?: IMap<string, Dirent>;
  /** Directories: recursive usage below (see rule above). */
  readonly usageBytes?: number;
  readonly usageFiles?: number;
  readonly quotaBytes?: number;
  readonly quotaFiles?: number;
  /** Symlinks: sealed target. */
  readonly target?: Buffer;
  readonly xattrs?: IMap<string, Xattr>;
  /** Files: sorted, non-overlapping, all below `size`. */
  readonly extents?: readonly Extent[];
  /** Highest lock fencing token a commit carried. */
  readonly lockToken?: number;
}

export type Inodes = IMap<number, Inode>;

/** A namespace state at one version (live, or bound to a snapshot). */
export interface Tree {
  readonly version: number;
  readonly inodes: Inodes;
}

export interface SnapshotRecord {
  readonly name: string;
  readonly createdAt: number;
  readonly schedule?: string;
  readonly tree: Tree;
}

export interface SessionRecord {
  readonly client: string;
  readonly ttlMs: number;
  /** handle id → inode */
  readonly handles: Map<string, number>;
}

/**
 * Map key of a 32-byte token: its bytes as 16 UTF-16 code units. Immutable hashes strings of
 * up to 16 characters directly; longer ones go through a global cache that interns every new
 * key (measured: the largest single cost of building a 1M-entry image). Order of keys is
 * code-unit order, not byte order: consistent, which is all readdir cookies need.
 */
export function tokenKey(token: Buffer): string {
  return token.toString("utf16le");
}

export function keyToken(key: string): Buffer {
  return Buffer.from(key, "utf16le");
}

/** Token key's width in string characters. */
export const TOKEN_KEY_CHARS = 16;
