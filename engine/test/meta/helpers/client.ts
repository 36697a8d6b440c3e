/**
 * A small path-free test client over any MetaApi: names as strings, request ids generated,
 * one context. Keeps the conformance tests readable.
 */
import { randomUUID } from "node:crypto";
import type { Attr, CallContext, DirEntryPlus, MetaApi } from "../../../src/meta/api.js";
import { ROOT_INO } from "../../../src/meta/api.js";
import { nameToken, sealName, unseal } from "./names.js";

export class TestClient {
  readonly scopes = new Map<number, number>([[ROOT_INO, ROOT_INO]]);
  constructor(
    readonly api: MetaApi,
    readonly ctx: CallContext,
  ) {}

  rid(): string {
    return randomUUID();
  }

  /** Name scope of a directory (learned from attrs; defaults to the inode number). */
  scope(dir: number): number {
    return this.scopes.get(dir) ?? dir;
  }

  #learn(attr: Attr): Attr {
    if (attr.nameScope !== undefined) this.scopes.set(attr.ino, attr.nameScope);
    return attr;
  }

  sealed(dir: number, name: string) {
    return sealName(this.scope(dir), name);
  }

  token(dir: number, name: string): Buffer {
    return nameToken(this.scope(dir), name);
  }

  async mkdir(parent: number, name: string, mode = 0o755): Promise<Attr> {
    const r = await this.api.mkdir(this.ctx, {
      requestId: this.rid(),
      parent,
      name: this.sealed(parent, name),
      mode,
      uid: 0,
      gid: 0,
    });
    return this.#learn(r.attr);
  }

  async create(parent: number, name: string, opts: { exclusive?: boolean; open?: boolean } = {}): Promise<Attr> {
    const r = await this.api.create(this.ctx, {
      requestId: this.rid(),
      parent,
      name: this.sealed(parent, name),
      mode: 0o644,
      uid: 1000,
      gid: 1000,
      exclusive: opts.exclusive ?? true,
      ...(opts.open ? { open: true } : {}),
    });
    return r.attr;
  }

  async symlink(parent: number, name: string, target: string): Promise<Attr> {
    const r = await this.api.symlink(this.ctx, {
      requestId: this.rid(),
      parent,
      name: this.sealed(parent, name),
      target: Buffer.from(target),
      uid: 0,
      gid: 0,
    });
    return r.attr;
  }

  async lookup(parent: number, name: string, snapshot?: string): Promise<Attr> {
    const r = await this.api.lookup(this.ctx, {
      parent,
      name: this.token(parent, name),
      ...(snapshot ? { snapshot } : {}),
    });
    return this.#learn(r.attr);
  }

  async getattr(ino: number, snapshot?: string): Promise<Attr> {
    const r = await this.api.getattr(this.ctx, { inos: [ino], ...(snapshot ? { snapshot } : {}) });
    const item = r.items[0]!;
    if (!item.attr) throw Object.assign(new Error(`getattr ${ino}: ${item.error}`), { code: item.error });
    return this.#learn(item.attr);
  }

  async unlink(parent: number, name: string) {
    return this.api.unlink(this.ctx, { requestId: this.rid(), parent, name: this.token(parent, name) });
  }

  async rmdir(parent: number, name: string) {
    return this.api.rmdir(this.ctx, { requestId: this.rid(), parent, name: this.token(parent, name) });
  }

  async rename(
    parent: number,
    name: string,
    newParent: number,
    newName: string,
    flags: { noReplace?: boolean; exchange?: boolean } = {},
  ) {
    return this.api.rename(this.ctx, {
      requestId: this.rid(),
      parent,
      name: this.token(parent, name),
      newParent,
      newName: this.sealed(newParent, newName),
      ...flags,
    });
  }

  async link(ino: number, newParent: number, newName: string): Promise<Attr> {
    const r = await this.api.link(this.ctx, {
      requestId: this.rid(),
      ino,
      newParent,
      newName: this.sealed(newParent, newName),
    });
    return r.attr;
  }

  /** All entries of a directory, following cookies with a small page size. */
  async readdir(ino: number, opts: { snapshot?: string; limit?: number } = {}): Promise<DirEntryPlus[]> {
    const out: DirEntryPlus[] = [];
    let cookie: string | undefined;
    do {
      const page = await this.api.readdirplus(this.ctx, {
        ino,
        limit: opts.limit ?? 3,
        ...(cookie ? { cookie } : {}),
        ...(opts.snapshot ? { snapshot: opts.snapshot } : {}),
      });
      for (const e of page.entries) this.#learn(e.attr);
      out.push(...page.entries);
      cookie = page.cookie;
    } while (cookie);
    return out;
  }

  async names(ino: number, snapshot?: string): Promise<string[]> {
    return (await this.readdir(ino, snapshot ? { snapshot } : {})).map((e) => unseal(e.name)).sort();
  }

  async write(ino: number, offset: number, length: number, chunk: string, newSize = offset + length) {
    return this.api.commitWrite(this.ctx, {
      requestId: this.rid(),
      ino,
      extents: [{ offset, length, chunk, chunkOffset: 0 }],
      newSize,
      mtime: 1,
    });
  }
}

/** Await a promise expected to fail with a MetaError-like code. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return "OK";
}
