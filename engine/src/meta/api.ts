/**
 * The client-facing metadata API (one service per filespace).
 *
 * Shape rules, so the gRPC mapping stays mechanical:
 * - Every method is `(ctx, request) => Promise<response>`; `ctx` travels as call metadata,
 *   the request and response as one message each. Only numbers, strings, booleans, Buffers,
 *   arrays and plain objects appear; optional fields may be absent (never `null` unless said).
 * - Every mutation request carries `requestId` (client-chosen, unique per session, e.g. a
 *   UUID). The service remembers the answer of recent request ids per session, durably, so a
 *   client may retry any mutation — even across a service restart — and get the first answer
 *   without a second effect. A *failed* mutation has no effect and is not remembered.
 * - Every read request accepts `snapshot` (a snapshot name): the answer is then as of that
 *   snapshot's version. Mutations never accept one (a snapshot is read-only).
 * - Errors are `MetaError` (errors.ts) with a POSIX errno name or a service code.
 *
 * Names never reach the service in plaintext: a directory entry is `{ token, sealed }` where
 * `token` is the client's keyed lookup token (32 bytes) and `sealed` the AEAD-sealed name the
 * service stores and hands back opaquely. The token must be computed from the directory's
 * `nameScope` (see `Attr`), *not* its inode number: restore and clone create new inodes for
 * copied directories but keep their scope, so the copied entries stay findable.
 * Xattr names follow the same rule (token of the name + sealed name; value sealed).
 * Symlink targets are sealed Buffers.
 *
 * Inode numbers are JS safe integers; the root directory is `ROOT_INO` (1). A token confined
 * to a subtree sees that subtree's root as inode 1 and gets ENOENT for anything outside it.
 *
 * Rights by token mode: `ro` may read, hold sessions and open/release handles for reading
 * (any namespace mutation → EROFS); `rw` may also change the namespace and commit writes;
 * `admin` (never subtree-confined) may also set quotas, create/delete snapshots and list
 * chunk references. Unix permission bits are enforced by the client's kernel
 * (default_permissions), not here.
 */

/** Protocol versions this build speaks; `hello` picks the highest both sides know. */
export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;

export const ROOT_INO = 1;
/** Length of a name / xattr-name lookup token. */
export const NAME_TOKEN_BYTES = 32;
/** Upper bound on a sealed name (a 255-byte name + AEAD overhead + framing). */
export const MAX_SEALED_NAME_BYTES = 512;

export type Ino = number;

export type FileType = "file" | "dir" | "symlink" | "fifo" | "socket" | "chardev" | "blockdev";

/** Inode attributes. Times are milliseconds since the Unix epoch. */
export interface Attr {
  ino: Ino;
  type: FileType;
  /** Permission bits only (0o7777: rwx, setuid, setgid, sticky); the type is `type`. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes for files, sealed-target length for symlinks, entry count for directories. */
  size: number;
  atime: number;
  mtime: number;
  ctime: number;
  nlink: number;
  /** Bumped when an inode number would be reused; (ino, generation) names one file forever. */
  generation: number;
  /** Device number for chardev/blockdev, else 0. */
  rdev: number;
  /** Directories only: the scope clients key entry tokens with (equals `ino` unless restored/cloned). */
  nameScope?: number;
  /**
   * True when the inode has at least one extended attribute. The service always fills it, so
   * a client can answer getxattr/listxattr of an inode without xattrs locally (absent: an older
   * service; ask it).
   */
  hasXattrs?: boolean;
}

/** A name as the service sees it. */
export interface SealedName {
  /** Keyed lookup token, NAME_TOKEN_BYTES long. */
  token: Buffer;
  /** AEAD-sealed name, opaque to the service. */
  sealed: Buffer;
}

/** One piece of file content: `length` bytes at file `offset` live at `chunkOffset` in `chunk`. */
export interface Extent {
  offset: number;
  length: number;
  /** Opaque chunk id (object key suffix). */
  chunk: string;
  chunkOffset: number;
}

// ---- call context --------------------------------------------------------------------------

export interface CallContext {
  /** Access token (see meta/access): carries client name, ro|rw|admin, subtree root, expiry. */
  token: string;
  /** Session from `openSession`; required for open/release/commitWrite, else optional. */
  sessionId?: string;
}

export interface Mutation {
  /** Client-chosen id for dedupe; 1–128 printable characters. */
  requestId: string;
}

export interface Read {
  /** Answer as of this snapshot (read-only view). */
  snapshot?: string;
}

// ---- negotiation, sessions -----------------------------------------------------------------

export interface HelloRequest {
  /** Protocol versions the client speaks. */
  protocolVersions: number[];
  clientName?: string;
}
export interface HelloResponse {
  protocolVersion: number;
  /** Service epoch: bumps on every restart (fencing). */
  epoch: number;
  /** Last committed version. */
  version: number;
  /** What the token allows, as the service understood it. */
  access: { client: string; mode: AccessMode; subtreeRoot: Ino };
}

export type AccessMode = "ro" | "rw" | "admin";

export interface VersionResponse {
  version: number;
  epoch: number;
}

export interface OpenSessionRequest extends Mutation {
  /** Free text for logs and `filespace stats` (host name, pod). */
  clientName?: string;
  /** Lease length; the service clamps it to its own bounds. */
  ttlMs?: number;
}
export interface SessionResponse {
  sessionId: string;
  ttlMs: number;
  /** The lease runs out at this time (service clock) unless renewed by `heartbeat`. */
  expiresAt: number;
}
export type HeartbeatRequest = Record<string, never>;
export interface CloseSessionRequest extends Mutation {}

// ---- namespace reads -----------------------------------------------------------------------

export interface LookupRequest extends Read {
  parent: Ino;
  /** The lookup token of the name. */
  name: Buffer;
  /**
   * When the name is a regular file, also answer its extents overlapping [0, headExtentsBytes)
   * (≤ 64 MiB): a client about to read a cold file then needs no GetExtents round trip.
   */
  headExtentsBytes?: number;
}
export interface EntryResponse {
  attr: Attr;
  /** Lookup with `headExtentsBytes`, of a regular file: its extents over that head (may be none: holes). */
  headExtents?: { extents: Extent[] };
}

export interface GetattrRequest extends Read {
  /** 1–10,000 inodes. */
  inos: Ino[];
}
/** One answer per requested inode, same order; a missing inode is `{ error: "ENOENT" }`. */
export interface GetattrResponse {
  items: Array<{ attr?: Attr; error?: string }>;
}

export interface ReaddirplusRequest extends Read {
  ino: Ino;
  /** Continue after this cookie (from the previous page); omit to start. */
  cookie?: string;
  /**
   * Maximum entries in this page (default 1000, at most 10,000). The service may return fewer
   * to keep a response under ~3 MiB; `cookie` then continues.
   */
  limit?: number;
}
export interface DirEntryPlus {
  name: SealedName;
  attr: Attr;
}
/**
 * Entries in token order ("." and ".." are not included). `cookie` is present when more follow.
 * Cookies stay valid across concurrent changes: entries added/removed meanwhile may or may not
 * appear, but none that existed throughout is skipped or repeated.
 */
export interface ReaddirplusResponse {
  entries: DirEntryPlus[];
  cookie?: string;
}

export interface InoRequest extends Read {
  ino: Ino;
}
export interface ReadlinkResponse {
  target: Buffer;
}

export interface GetExtentsRequest extends Read {
  ino: Ino;
  /** Only extents overlapping [offset, offset+length); omit for all. */
  offset?: number;
  length?: number;
}
/** Non-overlapping extents in offset order (already resolved: newer writes shadow older ones). Holes read as zeros. */
export interface GetExtentsResponse {
  size: number;
  generation: number;
  extents: Extent[];
}

export interface StatfsResponse {
  /** Logical bytes of the files in the tree (or the token's subtree); unlinked-but-open files are not counted. */
  usedBytes: number;
  /** Quota of the root or of the token's subtree root, else a large nominal capacity. */
  totalBytes: number;
  files: number;
  totalFiles: number;
  blockSize: number;
  nameMax: number;
}

export interface UsageResponse {
  /** Logical bytes of regular files below (recursively, each inode charged once). */
  bytes: number;
  /** Inodes below (files, dirs, symlinks, ...), not counting the directory itself. */
  files: number;
}

export interface QuotaResponse {
  maxBytes?: number;
  maxFiles?: number;
  usedBytes: number;
  usedFiles: number;
}

// ---- namespace mutations -------------------------------------------------------------------

export interface Ownership {
  mode: number;
  uid: number;
  gid: number;
}

/**
 * Mutations that make a new inode accept `ino`: "create it with this number", a number an
 * earlier `reserveInodes` handed out (so a client can name a new file before the service has
 * answered). A number never handed out (≥ the service's allocator) or one in use is refused
 * with EINVAL (gRPC INVALID_ARGUMENT). Omitted: the service picks the number.
 */
export interface ChosenIno {
  ino?: Ino;
  /**
   * When the client made the inode (ms since the epoch, its clock): a create queued on a client
   * lands later, and the inode and its directory keep the time the client showed. Taken when not
   * ahead of the service's clock by more than a small skew (else the service's time); a
   * directory's times never move back.
   */
  time?: number;
}

export interface MknodRequest extends Mutation, Ownership, ChosenIno {
  parent: Ino;
  name: SealedName;
  type: Exclude<FileType, "dir" | "symlink">;
  rdev?: number;
}

export interface CreateRequest extends Mutation, Ownership, ChosenIno {
  parent: Ino;
  name: SealedName;
  /** Also register an open handle (O_CREAT|open in one round trip; needs a session). */
  open?: boolean;
  /** O_EXCL: fail with EEXIST if the name exists; otherwise an existing file is opened (and must be a file). */
  exclusive?: boolean;
}
export interface CreateResponse {
  attr: Attr;
  handle?: string;
  /** False when an existing file was opened (non-exclusive create). */
  created: boolean;
}

export interface MkdirRequest extends Mutation, Ownership, ChosenIno {
  parent: Ino;
  name: SealedName;
}

export interface SymlinkRequest extends Mutation, ChosenIno {
  parent: Ino;
  name: SealedName;
  target: Buffer;
  uid: number;
  gid: number;
}

/** Reserve `count` (1–10,000) inode numbers for later creates with a client-chosen `ino`. */
export interface ReserveInodesRequest extends Mutation {
  count: number;
}
/**
 * The numbers first .. first+count-1, handed out to this caller only: journaled, so they are
 * never handed out again, also after a restart. Unused ones are simply never used.
 */
export interface ReserveInodesResponse {
  first: Ino;
  count: number;
}

export interface LinkRequest extends Mutation {
  ino: Ino;
  newParent: Ino;
  newName: SealedName;
}

export interface UnlinkRequest extends Mutation {
  parent: Ino;
  /** Lookup token of the name. */
  name: Buffer;
}
export interface UnlinkResponse {
  ino: Ino;
  /** Links left; 0 with `stillOpen` means the inode lives on until its last handle is released. */
  nlink: number;
  stillOpen: boolean;
  /**
   * The directory's attributes after the change (its times are the service's): the client shows
   * them without asking again. Absent from services older than this field.
   */
  dir?: Attr;
}

export interface RmdirResponse {
  /** The parent directory's attributes after the change (see UnlinkResponse.dir). */
  dir?: Attr;
}

export interface RenameRequest extends Mutation {
  parent: Ino;
  /** Lookup token of the source name. */
  name: Buffer;
  newParent: Ino;
  newName: SealedName;
  /** RENAME_NOREPLACE: EEXIST if the target exists. */
  noReplace?: boolean;
  /** RENAME_EXCHANGE: atomically swap source and target (both must exist). */
  exchange?: boolean;
}
export interface RenameResponse {
  /** Inode that was replaced (and unlinked) by the rename, if any. */
  replaced?: Ino;
  /** The source directory's attributes after the change (see UnlinkResponse.dir). */
  dir?: Attr;
  /** The target directory's, when it is another one. */
  newDir?: Attr;
}

export interface SetattrRequest extends Mutation {
  ino: Ino;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Truncate or extend (files only); cuts extents past the new size. */
  size?: number;
  atime?: number;
  mtime?: number;
  /** Set atime/mtime to the service's clock. */
  atimeNow?: boolean;
  mtimeNow?: boolean;
}

export interface GetxattrRequest extends Read {
  ino: Ino;
  /** Lookup token of the xattr name. */
  name: Buffer;
}
export interface GetxattrResponse {
  value: Buffer;
}
export interface ListxattrResponse {
  names: SealedName[];
}
export interface SetxattrRequest extends Mutation {
  ino: Ino;
  name: SealedName;
  value: Buffer;
  /** XATTR_CREATE: EEXIST if present. XATTR_REPLACE: ENODATA if absent. */
  mode?: "create" | "replace";
}
export interface RemovexattrRequest extends Mutation {
  ino: Ino;
  name: Buffer;
}

// ---- data path -----------------------------------------------------------------------------

export interface OpenRequest extends Mutation {
  ino: Ino;
  /** O_TRUNC on open: size 0 (needs write rights). */
  truncate?: boolean;
  write?: boolean;
}
export interface OpenResponse {
  handle: string;
  attr: Attr;
}
export interface ReleaseRequest extends Mutation {
  handle: string;
}

export interface CommitWriteRequest extends Mutation {
  ino: Ino;
  /** New content, in the order written (later entries shadow earlier ones and all stored extents). */
  extents: Extent[];
  /** The size the writer saw; the file grows to max(current size, newSize, end of extents). */
  newSize: number;
  mtime: number;
  /** Fencing token of the lock the writer holds (coord); older than the newest seen → FENCED. */
  lockToken?: number;
  /**
   * Compare-and-swap: apply only if the file's content fingerprint (namespace/fingerprint.ts,
   * over the size and extents getExtents returned) is still this, else EBUSY. Compaction uses it.
   */
  ifContent?: string;
}
export interface CommitWriteResponse {
  attr: Attr;
  version: number;
}

// ---- quotas, snapshots ---------------------------------------------------------------------

export interface SetQuotaRequest extends Mutation {
  ino: Ino;
  /** Omit a limit to remove it. */
  maxBytes?: number;
  maxFiles?: number;
}

export interface SnapshotInfo {
  name: string;
  version: number;
  createdAt: number;
  /** Set for snapshots made by the schedule (e.g. "hourly"); retention prunes only those. */
  schedule?: string;
}
export interface CreateSnapshotRequest extends Mutation {
  name: string;
}
export interface DeleteSnapshotRequest extends Mutation {
  name: string;
}
export interface ListSnapshotsResponse {
  snapshots: SnapshotInfo[];
}

export interface RestoreRequest extends Mutation {
  snapshot: string;
  /** The file or directory to restore, as an inode of the snapshot. */
  ino: Ino;
  parent: Ino;
  name: SealedName;
  /** Replace an existing target of the same type (a directory must be empty); else EEXIST. */
  replace?: boolean;
}
export interface CloneRequest extends Mutation {
  snapshot: string;
  parent: Ino;
  name: SealedName;
}

export interface ChunkReferencesResponse {
  /** Version the listing is consistent with. */
  version: number;
  /** Every chunk id referenced by the live tree, any snapshot or an unlinked-but-open file. Sorted, unique. */
  chunks: string[];
}

export type Empty = Record<string, never>;

/** The metadata API. Implemented in process (meta/service) and over gRPC. */
export interface MetaApi {
  hello(ctx: CallContext, req: HelloRequest): Promise<HelloResponse>;
  version(ctx: CallContext): Promise<VersionResponse>;

  openSession(ctx: CallContext, req: OpenSessionRequest): Promise<SessionResponse>;
  heartbeat(ctx: CallContext, req?: HeartbeatRequest): Promise<SessionResponse>;
  closeSession(ctx: CallContext, req: CloseSessionRequest): Promise<Empty>;

  lookup(ctx: CallContext, req: LookupRequest): Promise<EntryResponse>;
  getattr(ctx: CallContext, req: GetattrRequest): Promise<GetattrResponse>;
  readdirplus(ctx: CallContext, req: ReaddirplusRequest): Promise<ReaddirplusResponse>;
  readlink(ctx: CallContext, req: InoRequest): Promise<ReadlinkResponse>;
  getExtents(ctx: CallContext, req: GetExtentsRequest): Promise<GetExtentsResponse>;
  statfs(ctx: CallContext, req?: Read): Promise<StatfsResponse>;
  usage(ctx: CallContext, req: InoRequest): Promise<UsageResponse>;

  reserveInodes(ctx: CallContext, req: ReserveInodesRequest): Promise<ReserveInodesResponse>;
  create(ctx: CallContext, req: CreateRequest): Promise<CreateResponse>;
  mknod(ctx: CallContext, req: MknodRequest): Promise<EntryResponse>;
  mkdir(ctx: CallContext, req: MkdirRequest): Promise<EntryResponse>;
  symlink(ctx: CallContext, req: SymlinkRequest): Promise<EntryResponse>;
  link(ctx: CallContext, req: LinkRequest): Promise<EntryResponse>;
  unlink(ctx: CallContext, req: UnlinkRequest): Promise<UnlinkResponse>;
  rmdir(ctx: CallContext, req: UnlinkRequest): Promise<RmdirResponse>;
  rename(ctx: CallContext, req: RenameRequest): Promise<RenameResponse>;
  setattr(ctx: CallContext, req: SetattrRequest): Promise<EntryResponse>;

  getxattr(ctx: CallContext, req: GetxattrRequest): Promise<GetxattrResponse>;
  listxattr(ctx: CallContext, req: InoRequest): Promise<ListxattrResponse>;
  setxattr(ctx: CallContext, req: SetxattrRequest): Promise<Empty>;
  removexattr(ctx: CallContext, req: RemovexattrRequest): Promise<Empty>;

  open(ctx: CallContext, req: OpenRequest): Promise<OpenResponse>;
  release(ctx: CallContext, req: ReleaseRequest): Promise<Empty>;
  commitWrite(ctx: CallContext, req: CommitWriteRequest): Promise<CommitWriteResponse>;

  setQuota(ctx: CallContext, req: SetQuotaRequest): Promise<QuotaResponse>;
  getQuota(ctx: CallContext, req: InoRequest): Promise<QuotaResponse>;

  createSnapshot(ctx: CallContext, req: CreateSnapshotRequest): Promise<SnapshotInfo>;
  listSnapshots(ctx: CallContext): Promise<ListSnapshotsResponse>;
  deleteSnapshot(ctx: CallContext, req: DeleteSnapshotRequest): Promise<Empty>;
  restore(ctx: CallContext, req: RestoreRequest): Promise<EntryResponse>;
  clone(ctx: CallContext, req: CloneRequest): Promise<EntryResponse>;

  /** Internal (admin tokens only): what GC must keep. */
  chunkReferences(ctx: CallContext): Promise<ChunkReferencesResponse>;
}
