/**
 * Landing a queued create at the metadata service (fs-local-creates.ts queues it). The create
 * is sent with the inode number reserved for it (`ino`), exclusive. When the service refuses
 * it, no data is dropped silently:
 * - EEXIST (another client took the name meanwhile): the inode is made under
 *   `name.conflict-<host>-<n>` in the same directory, logged and counted;
 * - ENOENT (the directory was removed elsewhere): the same, in the root directory;
 * - EEXIST or EINVAL of a create that is already there with our number (a replay after a crash
 *   lost the "landed" line): that answer is taken;
 * - anything else is the caller's: the inode never exists.
 */
import { randomUUID } from "node:crypto";
import type { CreateRequest, MetaApi, Attr as MetaAttr, FileType as MetaFileType } from "../meta/api.js";
import { MetaError } from "../meta/errors.js";
import type { DirIndex } from "./fs-dirs.js";
import type { NameCodec } from "./fs-names.js";
import type { MetaSession } from "./fs-session.js";
import { ROOT_INO } from "./types.js";

/**
 * What a create sends, minus parent and name (filled per attempt: a conflict changes them).
 * `time`: when this mount made the inode — sent along, so the service gives the inode and its
 * directory the times this mount already showed (no second change when the create lands).
 */
export type Made =
  | { kind: "file"; req: Omit<CreateRequest, "requestId" | "parent" | "name"> }
  | { kind: "dir"; mode: number; uid: number; gid: number; time?: number }
  | { kind: "symlink"; target: Buffer; uid: number; gid: number; time?: number }
  | {
      kind: "node";
      type: Exclude<MetaFileType, "dir" | "symlink">;
      rdev: number;
      mode: number;
      uid: number;
      gid: number;
      time?: number;
    };

/** When the inode was made, if stamped (a create journaled before a restart keeps its time). */
export function madeTime(made: Made): number | undefined {
  return made.kind === "file" ? made.req.time : made.time;
}

/** `made` stamped with its creation time. */
export function stamped(made: Made, time: number): Made {
  return made.kind === "file" ? { ...made, req: { ...made.req, time } } : { ...made, time };
}

/** The request fields of a `Made` (without its tag). */
export function fields<T extends { kind: string }>(made: T): Omit<T, "kind"> {
  const { kind: _kind, ...rest } = made;
  return rest;
}

export interface Landed {
  attr: MetaAttr;
  /** The service's handle of a created file opened by the create. */
  handle?: string;
}

export interface CreateLanderDeps {
  session: MetaSession;
  names: NameCodec;
  dirs: DirIndex;
  /** The name scope of a directory. */
  scopeOf: (vino: number) => Promise<number>;
  /** Host name for conflict names (sanitised here). */
  hostName: string;
  log: (line: string) => void;
}

export class CreateLander {
  private readonly api: MetaApi;
  private readonly host: string;
  /** Creates landed under a conflict name. */
  conflicts = 0;

  constructor(private readonly deps: CreateLanderDeps) {
    this.api = deps.session.api;
    this.host = deps.hostName.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64);
  }

  /** Sends a queued create; on EEXIST/ENOENT retries under a conflict name (see the top). */
  async land(parent: number, name: string, vino: number, made: Made): Promise<Landed> {
    let at = parent;
    let as = name;
    let requestId = randomUUID();
    for (let n = 1; ; n++) {
      try {
        const res = await this.send(at, as, vino, made, requestId);
        if (res.attr.ino !== vino) throw new MetaError("EINVAL", `service made inode ${res.attr.ino}, not ${vino}`);
        return res;
      } catch (err) {
        const code = err instanceof MetaError ? err.code : undefined;
        if (code === "EEXIST" || code === "EINVAL") {
          const there = await this.alreadyThere(at, as, vino);
          if (there) return there;
        }
        if ((code !== "EEXIST" && code !== "ENOENT") || n > 5) throw err;
        const parentGone = code === "ENOENT" && at !== ROOT_INO;
        if (code === "ENOENT" && !parentGone) throw err;
        const from = `${at}/${as}`;
        this.deps.dirs.remove(at, as);
        if (parentGone) at = ROOT_INO;
        as = `${name}.conflict-${this.host}-${this.conflicts + 1}`;
        this.conflicts++;
        requestId = randomUUID();
        this.deps.dirs.invalidate(at);
        this.deps.log(
          `conflict: queued ${made.kind} ${JSON.stringify(from)} (inode ${vino}) was refused (${code}); ` +
            `creating it as ${JSON.stringify(as)} in directory ${at} instead`,
        );
      }
    }
  }

  /** Already made under this name (a replay after a crash lost the "landed" line)? */
  private async alreadyThere(parent: number, name: string, vino: number) {
    const token = this.deps.names.token(await this.deps.scopeOf(parent), name);
    const found = await this.deps.session
      .call((c) => this.api.lookup(c, { parent, name: token }))
      .catch(() => undefined);
    return found?.attr.ino === vino ? found : undefined;
  }

  private async send(parent: number, name: string, ino: number, made: Made, requestId: string): Promise<Landed> {
    const sealed = this.deps.names.seal(await this.deps.scopeOf(parent), name);
    const base = { requestId, parent, name: sealed, ino };
    const session = this.deps.session;
    switch (made.kind) {
      case "file":
        return session.call((c) => this.api.create(c, { ...base, ...made.req, exclusive: true }));
      case "dir":
        return session.call((c) => this.api.mkdir(c, { ...base, ...fields(made) }));
      case "symlink":
        return session.call((c) => this.api.symlink(c, { ...base, ...fields(made) }));
      case "node":
        return session.call((c) => this.api.mknod(c, { ...base, ...fields(made) }));
    }
  }
}
