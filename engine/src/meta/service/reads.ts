/** The read half of the service: every read answers from the live tree or a snapshot's. */
import type * as A from "../api.js";
import { MetaError } from "../errors.js";
import { attrOf } from "../namespace/attr.js";
import { keyToken } from "../namespace/types.js";
import * as V from "../namespace/views.js";
import { ServiceCore } from "./core.js";
import { parse, schemas } from "./schemas.js";

/** Most entries per readdirplus page, and the response size a page stays under. */
const READDIR_MAX = 10_000;
const READDIR_MAX_BYTES = 3 * 1024 * 1024;

export abstract class ServiceReads extends ServiceCore {
  // ---- reads -------------------------------------------------------------------------------

  async lookup(ctx: A.CallContext, req: A.LookupRequest): Promise<A.EntryResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.lookup, req, "lookup");
    const tree = this.tree(r.snapshot);
    const [ino, node] = V.lookup(tree, caller.in(tree, r.parent), r.name);
    const attr = caller.attr(attrOf(ino, node));
    if (!r.headExtentsBytes || attr.type !== "file") return { attr };
    return { attr, headExtents: { extents: V.extents(tree, ino, 0, r.headExtentsBytes).extents } };
  }

  async getattr(ctx: A.CallContext, req: A.GetattrRequest): Promise<A.GetattrResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.getattr, req, "getattr");
    const tree = this.tree(r.snapshot);
    const items = r.inos.map((ino) => {
      try {
        return { attr: caller.attr(V.attr(tree, caller.in(tree, ino))) };
      } catch (err) {
        if (err instanceof MetaError) return { error: err.code };
        throw err;
      }
    });
    return { items };
  }

  async readdirplus(ctx: A.CallContext, req: A.ReaddirplusRequest): Promise<A.ReaddirplusResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.readdirplus, req, "readdirplus");
    const tree = this.tree(r.snapshot);
    const page = V.readdir(
      tree,
      caller.in(tree, r.ino),
      r.cookie,
      Math.min(r.limit ?? 1000, READDIR_MAX),
      READDIR_MAX_BYTES,
    );
    const entries = page.entries.map(([key, ent, node]) => ({
      name: { token: keyToken(key), sealed: Buffer.from(ent.sealed, "latin1") },
      attr: attrOf(ent.ino, node),
    }));
    return page.cookie === undefined ? { entries } : { entries, cookie: page.cookie };
  }

  async readlink(ctx: A.CallContext, req: A.InoRequest): Promise<A.ReadlinkResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.ino, req, "readlink");
    const tree = this.tree(r.snapshot);
    return { target: V.readlink(tree, caller.in(tree, r.ino)) };
  }

  async getExtents(ctx: A.CallContext, req: A.GetExtentsRequest): Promise<A.GetExtentsResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.getExtents, req, "getExtents");
    const tree = this.tree(r.snapshot);
    return V.extents(tree, caller.in(tree, r.ino), r.offset, r.length);
  }

  async statfs(ctx: A.CallContext, req?: A.Read): Promise<A.StatfsResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.statfs, req, "statfs");
    const root = V.node(this.tree(r.snapshot), caller.root);
    return {
      usedBytes: root.usageBytes ?? 0,
      totalBytes: root.quotaBytes ?? 2 ** 50,
      files: root.usageFiles ?? 0,
      totalFiles: root.quotaFiles ?? 2 ** 40,
      blockSize: 4096,
      nameMax: 255,
    };
  }

  async usage(ctx: A.CallContext, req: A.InoRequest): Promise<A.UsageResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.ino, req, "usage");
    const tree = this.tree(r.snapshot);
    return V.usage(tree, caller.in(tree, r.ino));
  }

  async getxattr(ctx: A.CallContext, req: A.GetxattrRequest): Promise<A.GetxattrResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.getxattr, req, "getxattr");
    const tree = this.tree(r.snapshot);
    return { value: V.getxattr(tree, caller.in(tree, r.ino), r.name) };
  }

  async listxattr(ctx: A.CallContext, req: A.InoRequest): Promise<A.ListxattrResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.ino, req, "listxattr");
    const tree = this.tree(r.snapshot);
    return { names: V.listxattr(tree, caller.in(tree, r.ino)) };
  }

  async getQuota(ctx: A.CallContext, req: A.InoRequest): Promise<A.QuotaResponse> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.ino, req, "getQuota");
    const tree = this.tree(r.snapshot);
    const n = V.dirNode(tree, caller.in(tree, r.ino));
    const q: A.QuotaResponse = { usedBytes: n.usageBytes ?? 0, usedFiles: n.usageFiles ?? 0 };
    if (n.quotaBytes !== undefined) q.maxBytes = n.quotaBytes;
    if (n.quotaFiles !== undefined) q.maxFiles = n.quotaFiles;
    return q;
  }

  async listSnapshots(ctx: A.CallContext): Promise<A.ListSnapshotsResponse> {
    this.caller(ctx, "ro");
    return { snapshots: this.snapshotInfos() };
  }

  async chunkReferences(ctx: A.CallContext): Promise<A.ChunkReferencesResponse> {
    this.caller(ctx, "admin");
    return { version: this.ns.version, chunks: this.ns.chunkReferences() };
  }
}
