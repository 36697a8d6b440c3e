/**
 * Request validation, the one definition of every request field: the service parses each call
 * with these, and the gRPC server checks them at the wire edge (grpc/schemas.ts maps rpcs here).
 * Every field checked; messages name the field.
 */
import { z } from "zod";
import { MAX_SEALED_NAME_BYTES, NAME_TOKEN_BYTES } from "../api.js";
import { MetaError } from "../errors.js";

const ino = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const u32 = z.number().int().min(0).max(0xffffffff);
const nonNeg = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const time = z.number().finite();
const buf = (max: number) =>
  z.instanceof(Buffer, { message: "expected a Buffer" }).refine((b) => b.length <= max, `at most ${max} bytes`);
const token = z
  .instanceof(Buffer, { message: "expected a Buffer" })
  .refine((b) => b.length === NAME_TOKEN_BYTES, `expected a ${NAME_TOKEN_BYTES}-byte lookup token`);
const sealedName = z.object({
  token,
  sealed: buf(MAX_SEALED_NAME_BYTES).refine((b) => b.length > 0, "sealed name must not be empty"),
});
const requestId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");
const snapshotName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, "letters, digits and . _ : - (starting with a letter or digit)");
const mutation = { requestId };
const read = { snapshot: snapshotName.optional() };
const ownership = { mode: z.number().int().min(0).max(0o7777), uid: u32, gid: u32 };
/** A client-chosen inode number for a new inode (from reserveInodes); the root is never new. */
const chosen = {
  ino: ino.min(2, "a number from reserveInodes (the root, 1, is never new)").optional(),
  time: z.number().int("time: expected whole milliseconds").min(0, "time: expected ms since the epoch").optional(),
};

export const schemas = {
  hello: z.object({
    protocolVersions: z.array(z.number().int().positive()).min(1),
    clientName: z.string().max(256).optional(),
  }),
  openSession: z.object({ ...mutation, clientName: z.string().max(256).optional(), ttlMs: nonNeg.optional() }),
  closeSession: z.object(mutation),
  lookup: z.object({
    ...read,
    parent: ino,
    name: token,
    headExtentsBytes: z
      .number()
      .int()
      .min(0)
      .max(64 * 1024 * 1024, "headExtentsBytes: expected at most 64 MiB")
      .optional(),
  }),
  getattr: z.object({ ...read, inos: z.array(ino).min(1).max(10_000) }),
  readdirplus: z.object({
    ...read,
    ino,
    cookie: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "a cookie from a previous page")
      .optional(),
    limit: z.number().int().positive().optional(),
  }),
  ino: z.object({ ...read, ino }),
  statfs: z.object(read),
  getExtents: z.object({ ...read, ino, offset: nonNeg.optional(), length: nonNeg.optional() }),
  reserveInodes: z.object({
    ...mutation,
    count: z
      .number({ message: "expected a number of inodes" })
      .int("expected a whole number of inodes")
      .min(1, "reserve at least 1 inode")
      .max(10_000, "reserve at most 10,000 inodes per call"),
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
    rdev: u32.optional(),
  }),
  mkdir: z.object({ ...mutation, ...ownership, ...chosen, parent: ino, name: sealedName }),
  symlink: z.object({ ...mutation, ...chosen, parent: ino, name: sealedName, target: buf(8192), uid: u32, gid: u32 }),
  link: z.object({ ...mutation, ino, newParent: ino, newName: sealedName }),
  unlink: z.object({ ...mutation, parent: ino, name: token }),
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
    mode: z.number().int().min(0).max(0o7777).optional(),
    uid: u32.optional(),
    gid: u32.optional(),
    size: nonNeg.optional(),
    atime: time.optional(),
    mtime: time.optional(),
    atimeNow: z.boolean().optional(),
    mtimeNow: z.boolean().optional(),
  }),
  getxattr: z.object({ ...read, ino, name: token }),
  setxattr: z.object({
    ...mutation,
    ino,
    name: sealedName,
    value: buf(65_536 + 64),
    mode: z.enum(["create", "replace"]).optional(),
  }),
  removexattr: z.object({ ...mutation, ino, name: token }),
  open: z.object({ ...mutation, ino, truncate: z.boolean().optional(), write: z.boolean().optional() }),
  release: z.object({ ...mutation, handle: z.string().min(1).max(128) }),
  commitWrite: z.object({
    ...mutation,
    ino,
    extents: z
      .array(
        z.object({
          offset: nonNeg,
          length: nonNeg,
          chunk: z.string().min(1).max(256),
          chunkOffset: nonNeg,
        }),
      )
      .max(100_000),
    newSize: nonNeg,
    mtime: time,
    lockToken: nonNeg.optional(),
    ifContent: z.string().min(1).max(128).optional(),
  }),
  setQuota: z.object({ ...mutation, ino, maxBytes: nonNeg.optional(), maxFiles: nonNeg.optional() }),
  createSnapshot: z.object({ ...mutation, name: snapshotName }),
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
};

/** Parse or throw EINVAL naming the operation and the field. */
export function parse<T extends z.ZodType>(schema: T, value: unknown, op: string): z.infer<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join(".") : "(request)";
  throw new MetaError("EINVAL", `${op}: field ${field}: ${issue.message}`);
}
