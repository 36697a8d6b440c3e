/**
 * How the filespace VFS hides names from the metadata service: every directory entry, xattr
 * name, xattr value and symlink target is sealed with the filespace keyring before it leaves
 * the client, and opened when it comes back.
 *
 * - Entry tokens are keyed by the directory's `nameScope` (not its inode number), so entries of
 *   restored or cloned directories stay findable. The crypto layer's lookup token is 16 bytes;
 *   the service indexes 32-byte tokens, so the token is widened with SHA-256 (deterministic,
 *   still unpredictable without the key).
 * - Sealed names are bound to their scope (a sealed name moved to another directory by a
 *   hostile service fails to open).
 * - Xattr tokens use one filespace-wide owner, not the inode: restore creates new inodes and
 *   must keep their xattrs findable. Values are sealed without context for the same reason.
 */
import { createHash } from "node:crypto";
import type { NameSealer } from "../crypto/names.js";
import type { SealedName } from "../meta/api.js";

const XATTR_OWNER = "filespace";

function widen(token: Buffer): Buffer {
  return createHash("sha256").update(token).digest();
}

export class NameCodec {
  constructor(private readonly sealer: NameSealer) {}

  token(scope: number, name: string): Buffer {
    return widen(this.sealer.lookupToken(String(scope), name));
  }

  seal(scope: number, name: string): SealedName {
    return { token: this.token(scope, name), sealed: this.sealer.sealName(name, `dirent:${scope}`) };
  }

  open(scope: number, sealed: Buffer): string {
    return this.sealer.openName(sealed, `dirent:${scope}`);
  }

  xattrToken(name: string): Buffer {
    return widen(this.sealer.xattrToken(XATTR_OWNER, name));
  }

  sealXattr(name: string): SealedName {
    return { token: this.xattrToken(name), sealed: this.sealer.sealXattrName(name) };
  }

  openXattrName(sealed: Buffer): string {
    return this.sealer.openXattrName(sealed);
  }

  sealXattrValue(value: Buffer): Buffer {
    return this.sealer.sealXattrValue(value);
  }

  openXattrValue(sealed: Buffer): Buffer {
    return this.sealer.openXattrValue(sealed);
  }

  sealSymlink(target: string): Buffer {
    return this.sealer.sealSymlink(target);
  }

  openSymlink(sealed: Buffer): string {
    return this.sealer.openSymlink(sealed);
  }
}
