/**
 * Loads meta.proto at run time with @grpc/proto-loader and names the rpc of every MetaApi
 * method. The .proto stays a source file: from dist/ it is found back in src/ (the engine
 * ships both), so neither the build nor vitest needs a copy step.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { MetaApi } from "../api.js";

/** Loader options: TS field names, 64-bit as numbers, presence kept (no filled-in defaults). */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  arrays: true,
  oneofs: false,
};

export type MetaMethod = keyof MetaApi;

/** MetaApi method → rpc name in meta.proto (the methods' order is the proto's). */
export const RPC_NAMES: Record<MetaMethod, string> = {
  hello: "Hello",
  version: "Version",
  openSession: "OpenSession",
  heartbeat: "Heartbeat",
  closeSession: "CloseSession",
  lookup: "Lookup",
  getattr: "Getattr",
  readdirplus: "Readdirplus",
  readlink: "Readlink",
  getExtents: "GetExtents",
  statfs: "Statfs",
  usage: "Usage",
  reserveInodes: "ReserveInodes",
  create: "Create",
  mknod: "Mknod",
  mkdir: "Mkdir",
  symlink: "Symlink",
  link: "Link",
  unlink: "Unlink",
  rmdir: "Rmdir",
  rename: "Rename",
  setattr: "Setattr",
  getxattr: "Getxattr",
  listxattr: "Listxattr",
  setxattr: "Setxattr",
  removexattr: "Removexattr",
  open: "Open",
  release: "Release",
  commitWrite: "CommitWrite",
  setQuota: "SetQuota",
  getQuota: "GetQuota",
  createSnapshot: "CreateSnapshot",
  listSnapshots: "ListSnapshots",
  deleteSnapshot: "DeleteSnapshot",
  restore: "Restore",
  clone: "Clone",
  chunkReferences: "ChunkReferences",
};

export const META_METHODS = Object.keys(RPC_NAMES) as MetaMethod[];

/** Metadata keys of the call context. */
export const AUTH_HEADER = "authorization";
export const SESSION_HEADER = "x-session-id";
export const ERROR_CODE_TRAILER = "x-meta-error";

function protoPath(): string {
  const here = fileURLToPath(new URL("./meta.proto", import.meta.url));
  if (existsSync(here)) return here;
  // Running from engine/dist/meta/grpc/: the source tree holds the file.
  const fromDist = fileURLToPath(new URL("../../../src/meta/grpc/meta.proto", import.meta.url));
  if (existsSync(fromDist)) return fromDist;
  throw new Error(`meta.proto not found next to ${here} nor at ${fromDist}`);
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The generated client constructor; its `.service` is the server-side definition. */
export function metaServiceConstructor(): grpc.ServiceClientConstructor {
  if (!cached) {
    const definition = protoLoader.loadSync(protoPath(), LOADER_OPTIONS);
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      filespaces: { meta: { v1: { Meta: grpc.ServiceClientConstructor } } };
    };
    cached = loaded.filespaces.meta.v1.Meta;
  }
  return cached;
}
