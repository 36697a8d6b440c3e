/**
 * One record's application: a mutable working copy of the persistent inode map. Nothing
 * is visible until `finish()`, so a record that fails halfway (EDQUOT found late, say)
 * leaves the namespace untouched — atomicity for free from the persistent map.
 */
import type { Map as IMap } from "immutable";
import { ROOT_INO } from "../api.js";
import { MetaError } from "../errors.js";
import type { Inode, Inodes } from "./types.js";

export class Txn {
  readonly #base: Inodes;
  readonly #inodes: IMap<number, Inode>;
  #dirty = false;
  /** Pending usage deltas per directory: [bytes, files]. */
  readonly #charges = new Map<number, [number, number]>();

  constructor(
    inodes: Inodes,
    readonly t: number,
    readonly version: number,
  ) {
    this.#base = inodes;
    this.#inodes = inodes.asMutable();
  }

  find(ino: number): Inode | undefined {
    return this.#inodes.get(ino);
  }

  get(ino: number): Inode {
    const node = this.#inodes.get(ino);
    if (!node) throw new MetaError("ENOENT", `no inode ${ino}`);
    return node;
  }

  dir(ino: number): Inode {
    const node = this.get(ino);
    if (node.type !== "dir") throw new MetaError("ENOTDIR", `inode ${ino} is not a directory`);
    return node;
  }

  put(ino: number, node: Inode): void {
    this.#dirty = true;
    this.#inodes.set(ino, node);
  }

  update(ino: number, change: Partial<Inode>): Inode {
    const next = { ...this.get(ino), ...change };
    this.put(ino, next);
    return next;
  }

  remove(ino: number): void {
    this.#dirty = true;
    this.#inodes.delete(ino);
  }

  /** Is `ancestor` the directory `dir` or one of its ancestors? */
  isAncestor(ancestor: number, dir: number): boolean {
    for (let d = dir; d !== 0; d = this.get(d).parent) if (d === ancestor) return true;
    return false;
  }

  /** Charge (or with negative numbers, credit) `dir` and all its ancestors. */
  charge(dir: number, bytes: number, files: number): void {
    if (dir === 0 || (bytes === 0 && files === 0)) return;
    for (let d = dir; d !== 0; d = this.get(d).parent) {
      const c = this.#charges.get(d);
      if (c) {
        c[0] += bytes;
        c[1] += files;
      } else this.#charges.set(d, [bytes, files]);
    }
  }

  /** Apply pending usage deltas; `enforce` = refuse growth past any quota with EDQUOT. */
  settle(enforce: boolean): void {
    const updates: Array<[number, Inode, number, number]> = [];
    for (const [d, [b, f]] of this.#charges) {
      if (b === 0 && f === 0) continue;
      const node = this.get(d);
      const bytes = (node.usageBytes ?? 0) + b;
      const files = (node.usageFiles ?? 0) + f;
      if (enforce) {
        if (b > 0 && node.quotaBytes !== undefined && bytes > node.quotaBytes)
          throw new MetaError("EDQUOT", `byte quota of directory ${d} (${node.quotaBytes}) exceeded`);
        if (f > 0 && node.quotaFiles !== undefined && files > node.quotaFiles)
          throw new MetaError("EDQUOT", `file quota of directory ${d} (${node.quotaFiles}) exceeded`);
      }
      updates.push([d, node, bytes, files]);
    }
    for (const [d, node, bytes, files] of updates) this.put(d, { ...node, usageBytes: bytes, usageFiles: files });
    this.#charges.clear();
  }

  finish(enforce = true): Inodes {
    this.settle(enforce);
    // Unchanged trees keep their identity: snapshots of them are then recognisably identical.
    return this.#dirty ? this.#inodes.asImmutable() : this.#base;
  }
}

/** The usage a non-directory inode brings: its bytes (files only) and one file. */
export function footprint(node: Inode): [number, number] {
  if (node.type === "dir") return [node.usageBytes ?? 0, (node.usageFiles ?? 0) + 1];
  return [node.type === "file" ? node.size : 0, 1];
}

export function isRoot(ino: number): boolean {
  return ino === ROOT_INO;
}
