/**
 * zod schemas for every request the gRPC server accepts. The proto decoder already fixed the
 * wire types; these check what protobuf cannot: ranges, lengths, enumerations and required
 * fields (proto3 has no "required"). A failure is answered INVALID_ARGUMENT / EINVAL with the
 * field path in the message.
 */
import { z } from "zod";
import { MAX_SEALED_NAME_BYTES, NAME_TOKEN_BYTES } from "../api.js";
import type { MetaMethod } from "./proto.js";

const MAX_BATCH = 10_000;
const MAX_XATTR_VALUE_BYTES = 64 * 1024 + 64;
const MAX_SYMLINK_BYTES = 4096 + 64;

const buffer = z.custom<Buffer>((v) => Buffer.isBuffer(v), { message: "expected bytes" });
const bytesMax = (max: number) => buffer.refine((b) => b.length <= max, { message: `expected at most ${max} bytes` });
const token = buffer.refine((b) => b.length === NAME_TOKEN_BYTES, {
  message: `expected a ${NAME_TOKEN_BYTES}-byte lookup token`,
});
const uint = z.number().int().nonnegative();
const ino = z.number().int().positive();
const time = z.number().int();
const u32 = uint.max(0xffff_ffff);

const sealedName = z.object({
  token,
  sealed: bytesMax(MAX_SEALED_NAME_BYTES).refine((b) => b.length > 0, { message: "expected a sealed name" }),
});
const requestId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, "expected 1-128 printable characters");
const snapshotName = z.string().min(1).max(255);
const mutation = { requestId };
const read = { snapshot: snapshotName.optional() };
const ownership = { mode: uint.max(0o7777), uid: u32, gid: u32 };
const chosen = { ino: ino.optional() };

const extent = z.object({ offset: uint, length: uint, chunk: z.string().min(1).max(256), chunkOffset: uint });

const empty = z.object({});
const inoRequest = z.object({ ...read, ino });
const unlinkRequest = z.object({ ...mutation, parent: ino, name: token });

export const REQUEST_SCHEMAS: Record<MetaMethod, z.ZodType> = {
  hello: z.object({
    protocolVersions: z.array(u32).min(1, "expected at least one protocol version"),
    clientName: z.string().max(256).optional(),
  }),
  version: empty,
  openSession: z.object({ ...mutation, clientName: z.string().max(256).optional(), ttlMs: uint.optional() }),
  heartbeat: empty,
  closeSession: z.object(mutation),
  lookup: z.object({ ...read, parent: ino, name: token }),
  getattr: z.object({ ...read, inos: z.array(ino).max(MAX_BATCH) }),
  readdirplus: z.object({
    ...read,
    ino,
    cookie: z.string().max(1024).optional(),
    limit: uint.max(100_000).optional(),
  }),
  readlink: inoRequest,
  getExtents: z.object({ ...read, ino, offset: uint.optional(), length: uint.optional() }),
  statfs: z.object(read),
  usage: inoRequest,
  reserveInodes: z.object({
    ...mutation,
    count: uint.min(1, "expected at least 1 inode").max(10_000, "expected at most 10,000 inodes per call"),
  }),
  create: z.object({
    ...mutation,
    ...ownership,
    ...chosen,
    parent: ino,
    name: sealedName,
    open: z.boolean().optional(),
    exclusive: z.boolean().optional(),
  }),
  mknod: z.object({
    ...mutation,
    ...ownership,
    ...chosen,
    parent: ino,
    name: sealedName,
    type: z.enum(["file", "fifo", "socket", "chardev", "blockdev"]),
    rdev: uint.optional(),
  }),
  mkdir: z.object({ ...mutation, ...ownership, ...chosen, parent: ino, name: sealedName }),
  symlink: z.object({
    ...mutation,
    ...chosen,
    parent: ino,
    name: sealedName,
    target: bytesMax(MAX_SYMLINK_BYTES),
    uid: u32,
    gid: u32,
  }),
  link: z.object({ ...mutation, ino, newParent: ino, newName: sealedName }),
  unlink: unlinkRequest,
  rmdir: unlinkRequest,
  rename: z.object({
    ...mutation,
    parent: ino,
    name: token,
    newParent: ino,
    newName: sealedName,
    noReplace: z.boolean().optional(),
    exchange: z.boolean().optional(),
  }),
  setattr: z.object({
    ...mutation,
    ino,
    mode: uint.max(0o7777).optional(),
    uid: u32.optional(),
    gid: u32.optional(),
    size: uint.optional(),
    atime: time.optional(),
    mtime: time.optional(),
    atimeNow: z.boolean().optional(),
    mtimeNow: z.boolean().optional(),
  }),
  getxattr: z.object({ ...read, ino, name: token }),
  listxattr: inoRequest,
  setxattr: z.object({
    ...mutation,
    ino,
    name: sealedName,
    value: bytesMax(MAX_XATTR_VALUE_BYTES),
    mode: z.enum(["create", "replace"]).optional(),
  }),
  removexattr: z.object({ ...mutation, ino, name: token }),
  open: z.object({ ...mutation, ino, truncate: z.boolean().optional(), write: z.boolean().optional() }),
  release: z.object({ ...mutation, handle: z.string().min(1).max(256) }),
  commitWrite: z.object({
    ...mutation,
    ino,
    extents: z.array(extent).max(MAX_BATCH),
    newSize: uint,
    mtime: time,
    lockToken: uint.optional(),
    ifContent: z.string().min(1).max(128).optional(),
  }),
  setQuota: z.object({ ...mutation, ino, maxBytes: uint.optional(), maxFiles: uint.optional() }),
  getQuota: inoRequest,
  createSnapshot: z.object({ ...mutation, name: snapshotName }),
  listSnapshots: empty,
  deleteSnapshot: z.object({ ...mutation, name: snapshotName }),
  restore: z.object({
    ...mutation,
    snapshot: snapshotName,
    ino,
    parent: ino,
    name: sealedName,
    replace: z.boolean().optional(),
  }),
  clone: z.object({ ...mutation, snapshot: snapshotName, parent: ino, name: sealedName }),
  chunkReferences: empty,
};

/** "field.path: what was expected" for the first few issues. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join(".") : "(request)"}: ${i.message}`)
    .join("; ");
}
