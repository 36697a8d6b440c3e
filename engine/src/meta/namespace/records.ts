/**
 * Journal records: one per committed mutation, carrying every choice the service made
 * (inode numbers, handle and session ids, the time). Binary fields are base64 strings so a
 * record is plain JSON for any journal encoding.
 */
import type { Extent, FileType } from "../api.js";

interface Base {
  /** Service clock at the time of the request (ms). */
  t: number;
  /** Dedupe key (session or client + request id); the result is remembered under it. */
  dedupe?: string;
}

export type NsRecord = Base &
  (
    | { op: "openSession"; sessionId: string; client: string; ttlMs: number }
    | { op: "closeSession"; sessionId: string }
    | {
        op: "make";
        parent: number;
        token: string;
        sealed: string;
        type: FileType;
        mode: number;
        uid: number;
        gid: number;
        rdev: number;
        ino: number;
        target?: string;
      }
    | {
        op: "create";
        parent: number;
        token: string;
        sealed: string;
        mode: number;
        uid: number;
        gid: number;
        ino: number;
        exclusive: boolean;
        sessionId?: string;
        handle?: string;
      }
    /** Inode numbers first..first+count-1 are handed out (the allocator moves past them). */
    | { op: "reserveInodes"; first: number; count: number }
    | { op: "link"; ino: number; newParent: number; token: string; sealed: string }
    | { op: "unlink"; parent: number; token: string; dir: boolean }
    | {
        op: "rename";
        parent: number;
        token: string;
        newParent: number;
        newToken: string;
        newSealed: string;
        noReplace: boolean;
        exchange: boolean;
      }
    | {
        op: "setattr";
        ino: number;
        mode?: number;
        uid?: number;
        gid?: number;
        size?: number;
        atime?: number;
        mtime?: number;
      }
    | { op: "setxattr"; ino: number; token: string; sealed: string; value: string; mode?: "create" | "replace" }
    | { op: "removexattr"; ino: number; token: string }
    | { op: "open"; ino: number; sessionId: string; handle: string; truncate: boolean }
    | { op: "release"; sessionId: string; handle: string }
    | {
        op: "commitWrite";
        ino: number;
        sessionId: string;
        extents: Extent[];
        newSize: number;
        mtime: number;
        lockToken?: number;
        ifContent?: string;
      }
    | { op: "setQuota"; ino: number; maxBytes?: number; maxFiles?: number }
    | { op: "createSnapshot"; name: string; schedule?: string }
    | { op: "deleteSnapshot"; name: string }
    | {
        op: "restore";
        snapshot: string;
        ino: number;
        parent: number;
        token: string;
        sealed: string;
        replace: boolean;
        /** New inodes are numbered from here, in sorted-traversal order. */
        firstIno: number;
      }
  );

export type NsOp = NsRecord["op"];
