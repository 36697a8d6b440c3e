/**
 * The caller as the service sees it: verified claims, and the inode mapping for tokens
 * confined to a subtree (the client sees the subtree root as inode 1; anything outside
 * answers ENOENT, as if it did not exist).
 */

import type { AccessClaims } from "../access/token.js";
import type { Attr } from "../api.js";
import { ROOT_INO } from "../api.js";
import { MetaError } from "../errors.js";
import type { Tree } from "../namespace/types.js";
import { within } from "../namespace/views.js";

export class Caller {
  readonly root: number;
  constructor(
    readonly claims: AccessClaims,
    readonly sessionId: string | undefined,
  ) {
    this.root = claims.subtreeRoot;
  }

  get confined(): boolean {
    return this.root !== ROOT_INO;
  }

  /** Client inode → real inode, refusing inodes outside the subtree. */
  in(tree: Tree, ino: number): number {
    if (!this.confined) return ino;
    const real = ino === ROOT_INO ? this.root : ino;
    if (!within(tree, real, this.root)) throw new MetaError("ENOENT", `no inode ${ino}`);
    return real;
  }

  /** Real inode → client inode. */
  out(ino: number): number {
    return this.confined && ino === this.root ? ROOT_INO : ino;
  }

  attr(a: Attr): Attr {
    if (!this.confined || a.ino !== this.root) return a;
    return { ...a, ino: ROOT_INO };
  }

  /** Key under which a request's answer is remembered. */
  dedupeKey(requestId: string): string {
    return `${this.sessionId ?? `client:${this.claims.client}`}|${requestId}`;
  }
}
