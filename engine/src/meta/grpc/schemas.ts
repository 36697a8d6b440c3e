/**
 * What the gRPC server checks before a call reaches the API: the service's own request schemas
 * (service/schemas.ts — one definition of every field's range, length and enumeration), looked
 * up by rpc. The proto decoder already fixed the wire types; these check what protobuf cannot,
 * including required fields (proto3 has none). A failure is answered INVALID_ARGUMENT / EINVAL
 * with the field path in the message. Methods without a request body take an empty object.
 */
import { z } from "zod";
import { schemas } from "../service/schemas.js";
import type { MetaMethod } from "./proto.js";

const empty = z.object({});

export const REQUEST_SCHEMAS: Record<MetaMethod, z.ZodType> = {
  hello: schemas.hello,
  version: empty,
  openSession: schemas.openSession,
  heartbeat: empty,
  closeSession: schemas.closeSession,
  lookup: schemas.lookup,
  getattr: schemas.getattr,
  readdirplus: schemas.readdirplus,
  readlink: schemas.ino,
  getExtents: schemas.getExtents,
  statfs: schemas.statfs,
  usage: schemas.ino,
  reserveInodes: schemas.reserveInodes,
  create: schemas.create,
  mknod: schemas.mknod,
  mkdir: schemas.mkdir,
  symlink: schemas.symlink,
  link: schemas.link,
  unlink: schemas.unlink,
  rmdir: schemas.unlink,
  rename: schemas.rename,
  setattr: schemas.setattr,
  getxattr: schemas.getxattr,
  listxattr: schemas.ino,
  setxattr: schemas.setxattr,
  removexattr: schemas.removexattr,
  open: schemas.open,
  release: schemas.release,
  commitWrite: schemas.commitWrite,
  setQuota: schemas.setQuota,
  getQuota: schemas.ino,
  createSnapshot: schemas.createSnapshot,
  listSnapshots: empty,
  deleteSnapshot: schemas.deleteSnapshot,
  restore: schemas.restore,
  clone: schemas.clone,
  chunkReferences: empty,
};

/** "field.path: what was expected" for the first few issues. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join(".") : "(request)"}: ${i.message}`)
    .join("; ");
}
